// The redirect bridge MSAL v5 asks for: the authorization response lands on this page, which
// hands it to the page that started the sign-in (see MSAL's v4-to-v5 migration guide).
import { broadcastResponseToMainFrame } from "@azure/msal-browser/redirect-bridge";

broadcastResponseToMainFrame().catch((error) => {
  document.body.textContent = `Sign-in could not be completed: ${error}`;
});

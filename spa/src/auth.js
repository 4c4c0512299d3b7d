// Sign-in with MSAL.js: authorization code flow with PKCE, redirect, tokens in sessionStorage
// (never localStorage) and gone when the tab closes.
import {
  BrowserCacheLocation,
  InteractionRequiredAuthError,
  PublicClientApplication,
} from "@azure/msal-browser";

export const STORAGE_SCOPE = "https://storage.azure.com/user_impersonation";

/** MSAL's configuration for `config.json` (see docs/spa.md for the Entra values). */
export function msalConfiguration(config, here = window.location.href) {
  const auth = {
    clientId: config.clientId,
    authority: config.authority,
    redirectUri: new URL("redirect.html", here).href,
    postLogoutRedirectUri: new URL("./", here).href,
  };
  // A non-Microsoft host (the local stand-in, a sovereign cloud's own) is trusted by name, and
  // its OpenID metadata can be given up front instead of fetched.
  if (config.knownAuthorities?.length) auth.knownAuthorities = config.knownAuthorities;
  if (config.authorityMetadata) auth.authorityMetadata = JSON.stringify(config.authorityMetadata);
  return { auth, cache: { cacheLocation: BrowserCacheLocation.SessionStorage } };
}

export async function createAuth(config) {
  const msal = new PublicClientApplication(msalConfiguration(config));
  await msal.initialize();
  const result = await msal.handleRedirectPromise();
  if (result?.account) msal.setActiveAccount(result.account);
  if (!msal.getActiveAccount()) {
    const [first] = msal.getAllAccounts();
    if (first) msal.setActiveAccount(first);
  }
  return {
    account: () => msal.getActiveAccount(),
    signIn: () => msal.loginRedirect({ scopes: [config.apiScope], prompt: "select_account" }),
    signOut: () => msal.logoutRedirect({ account: msal.getActiveAccount() }),
    /** MSAL's result for one resource's scope; a redirect when consent or sign-in is due. */
    async acquire(scope) {
      const request = { scopes: [scope], account: msal.getActiveAccount() };
      try {
        return await msal.acquireTokenSilent(request);
      } catch (error) {
        if (error instanceof InteractionRequiredAuthError) await msal.acquireTokenRedirect(request);
        throw error;
      }
    },
    async token(scope) {
      return (await this.acquire(scope)).accessToken;
    },
  };
}

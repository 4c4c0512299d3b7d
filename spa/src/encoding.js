// The queue contract's encoding: the message text is base64 of the JSON's UTF-8 bytes.

/** Base64 of the UTF-8 bytes of `text` (`btoa(text)` alone throws on non-Latin-1 text). */
export function utf8Base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The contract's size limit: 16 KiB of UTF-8 JSON, before base64. */
export const MAX_MESSAGE_BYTES = 16 * 1024;

export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/**
 * Records the path of every POST the process makes through fetch (the SDK's
 * REST calls), so a test can say a call went by the socket and not by REST.
 * `restore()` puts the real fetch back.
 */
export function spyOnPosts(): { posts: string[]; restore: () => void } {
  const realFetch = globalThis.fetch;
  const posts: string[] = [];
  globalThis.fetch = (input, init) => {
    if (init?.method === 'POST') posts.push(new URL(String(input)).pathname);
    return realFetch(input, init);
  };
  return { posts, restore: () => (globalThis.fetch = realFetch) };
}

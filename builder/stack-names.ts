// The stack images detected apps are built and run over, by name (the language stacks of
// Python and Java are chosen per app: stacks.ts).

/**
 * The stack a detected Node or static app runs over, here (its replicas and hooks) and in
 * its cluster image; its release is at /app. Its Node is what an app that asks for none
 * gets: the active LTS line (26 in December 2026; 20 reached its end of life in April).
 */
export const nodeStack = 'docker.io/library/node:26-slim';

/** The stack Go apps are built and run over: their binary needs no more than Debian's base (CA certificates, tzdata is the app's). */
export const goStack = 'docker.io/library/debian:bookworm-slim';

/** Milliseconds between two performance.now() readings, to 0.01 ms (the answers' timing fields). */
export const ms = (from: number, to: number): number => Math.round((to - from) * 100) / 100;

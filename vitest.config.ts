import { defineConfig } from "vitest/config";

// Two projects: Node-side code (contract, compiler, end-to-end pipeline) and the
// Worker, whose tests run inside workerd (worker/vitest.config.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/**/*.test.ts", "compiler/**/*.test.ts", "contract/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 900_000,
        },
      },
      "worker/vitest.config.ts",
    ],
  },
});

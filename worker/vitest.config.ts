import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { videoServer } from "./test/fixtures/video-server.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: `${repo}wrangler.toml` },
      miniflare: {
        // A small body limit lets the 413 test send 2 MB instead of 32 MB. Keys are
        // optional as in local dev; auth.test.ts requires them with its own env.
        bindings: { MAX_BODY_BYTES: String(2 * 1024 * 1024), REQUIRE_API_KEY: "false" },
        // The internet cannot be reached here: fetches from the Worker go to a
        // stand-in server for https://videos.example.test/ (video-server.ts).
        outboundService: videoServer(inject("videos")),
      },
    })),
  ],
  test: {
    name: "worker",
    // The repository is the root, so node_modules lies inside it: files outside
    // the root get /@fs/ paths that the pool's module fallback cannot load (the
    // .wasm modules of onnxruntime-web and @jsquash).
    root: repo,
    include: ["worker/test/**/*.test.ts"],
    // Vitest hands CSS over as "" unless told: the playground's stylesheet is served as text (page.ts).
    css: { include: [/\/worker\/page\/[^/]+\.css/] },
    // Real videos made by ffmpeg in Node, handed to the tests as inject("videos").
    globalSetup: ["worker/test/fixtures/videos.global.ts"],
    testTimeout: 60_000,
  },
});

// The playground: GET / is a page to try the API from a browser, served by the
// Worker itself. Its markup, styles and scripts live in worker/page/ as plain
// files, imported as text (`?raw`: wrangler.toml's Text rule, Vite's raw import
// under vitest) and served as separate same-origin files under a CSP that
// allows nothing else: no inline code, no third-party requests.
import { Hono, type MiddlewareHandler } from "hono";
import { etag } from "hono/etag";
import { secureHeaders } from "hono/secure-headers";
import { userError } from "./errors.ts";
import { methodNotAllowed, type AppEnv } from "./middleware.ts";
import html from "../page/index.html?raw";
import api from "../page/api.js?raw";
import app from "../page/app.js?raw";
import css from "../page/app.css?raw";
import dom from "../page/dom.js?raw";
import heatmap from "../page/heatmap.js?raw";
import jobs from "../page/jobs.js?raw";
import results from "../page/results.js?raw";

const JS = "text/javascript; charset=utf-8";

/** The page's files under /page/, by name. */
export const PAGE_FILES: Readonly<Record<string, { body: string; type: string }>> = {
  "app.css": { body: css, type: "text/css; charset=utf-8" },
  "app.js": { body: app, type: JS },
  "api.js": { body: api, type: JS },
  "dom.js": { body: dom, type: JS },
  "heatmap.js": { body: heatmap, type: JS },
  "jobs.js": { body: jobs, type: JS },
  "results.js": { body: results, type: JS },
};

/** Where the page is served: not API routes, so not in the OpenAPI document. */
export const PAGE_PATHS = ["/", "/page/:file"] as const;

export const page = new Hono<AppEnv>();

const cacheControl: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.res.ok) c.header("Cache-Control", "no-cache");
};

const headers = [
  secureHeaders({
    xFrameOptions: "DENY", // as frame-ancestors 'none' says, for browsers without CSP
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      // Keyframes arrive as data: URLs, the job timeline is shown as a blob: image.
      imgSrc: ["'self'", "data:", "blob:"],
      connectSrc: ["'self'"],
      mediaSrc: ["'self'", "blob:"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  }),
  // The URLs are not versioned: browsers revalidate each load and get a 304 while the Worker is unchanged.
  etag(),
  cacheControl,
];
// By path, not "*": mounted on the app, a catch-all would reach the API's routes too.
for (const path of PAGE_PATHS) page.use(path, ...headers);

page.get("/", (c) => c.html(html));

page.get("/page/:file", (c) => {
  const name = c.req.param("file");
  const file = Object.hasOwn(PAGE_FILES, name) ? PAGE_FILES[name] : undefined;
  if (!file) throw userError(404, "not_found", `no page file ${JSON.stringify(name)}`, Object.keys(PAGE_FILES).map((f) => `/page/${f}`).join(", "));
  return c.body(file.body, 200, { "Content-Type": file.type });
});

page.all("/", methodNotAllowed("GET"));
page.all("/page/:file", methodNotAllowed("GET"));

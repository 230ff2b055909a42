// The playground page's routes inside workerd (page.ts): the page under its
// CSP, its files with their types, revalidation, and the same method and
// not-found answers as the API's routes. The page in a browser is tested in
// test/browser/.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PAGE_FILES } from "../src/page.ts";
import { BASE, expectError } from "./helpers.ts";

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function expectPageHeaders(res: Response): void {
  expect(res.headers.get("content-security-policy")).toBe(CSP);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("cache-control")).toBe("no-cache");
  expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{40}"$/);
}

describe("GET /", () => {
  it("is the page: HTML under a strict CSP, its script and styles same-origin files", async () => {
    const res = await SELF.fetch(`${BASE}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html; charset=utf-8$/i);
    expectPageHeaders(res);
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/page/app.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/page/app.css">');
    // Nothing inline for the CSP to refuse, nothing from elsewhere.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    for (const [, url] of html.matchAll(/\b(?:src|href)="([^"]*)"/g)) expect(url, url).toMatch(/^(\/(?!\/)|data:,$)/);
  });

  it("labels every form control", async () => {
    const html = await (await SELF.fetch(`${BASE}/`)).text();
    const ids = [...html.matchAll(/<(?:input|select)[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThanOrEqual(8);
    for (const id of ids) expect(html, id).toContain(`<label for="${id}"`);
  });

  it("HEAD answers the headers without the body; other methods get 405 with Allow", async () => {
    const head = await SELF.fetch(`${BASE}/`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await head.text()).toBe("");
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await SELF.fetch(`${BASE}/`, { method });
      await expectError(res, 405, "method_not_allowed");
      expect(res.headers.get("allow")).toBe("GET");
    }
  });

  it("revalidates: the ETag answers 304 with the caching headers and no body", async () => {
    const first = await SELF.fetch(`${BASE}/`);
    await first.body?.cancel();
    const again = await SELF.fetch(`${BASE}/`, { headers: { "If-None-Match": first.headers.get("etag")! } });
    expect(again.status).toBe(304);
    expect(again.headers.get("cache-control")).toBe("no-cache");
    expect(again.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(await again.text()).toBe("");
  });
});

describe("GET /page/:file", () => {
  it("serves each file of worker/page/ with its content type", async () => {
    for (const [name, file] of Object.entries(PAGE_FILES)) {
      const res = await SELF.fetch(`${BASE}/page/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get("content-type")).toBe(name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      expectPageHeaders(res);
      // Not an empty stand-in (Vitest's for CSS unless told otherwise, worker/vitest.config.ts).
      expect(file.body).toMatch(name.endsWith(".js") ? /^\/\/ @ts-check\n/ : /^\/\* The playground page/);
      expect(await res.text()).toBe(file.body);
    }
  });

  it("serves every module the scripts import (a file left out of PAGE_FILES would break the page)", () => {
    for (const [name, file] of Object.entries(PAGE_FILES)) {
      for (const [, imported] of file.body.matchAll(/^import [^"]+ from "\.\/([^"]+)";$/gm)) expect(PAGE_FILES, `${name} imports ${imported}`).toHaveProperty([imported]);
    }
    expect(PAGE_FILES["app.js"].body).toMatch(/from "\.\/api\.js"/);
  });

  it("an unknown file is a JSON 404; other methods get 405", async () => {
    await expectError(await SELF.fetch(`${BASE}/page/nope.js`), 404, "not_found");
    await expectError(await SELF.fetch(`${BASE}/page/__proto__`), 404, "not_found");
    const res = await SELF.fetch(`${BASE}/page/app.js`, { method: "POST" });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET");
  });

  it("leaves the API's answers alone: no page CSP or caching headers there", async () => {
    const res = await SELF.fetch(`${BASE}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBeNull();
    expect(res.headers.get("etag")).toBeNull();
  });
});

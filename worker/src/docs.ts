// GET /docs: the OpenAPI document (openapi.ts) rendered as one HTML page on
// the server, so the page cannot say anything the document does not. No
// scripts and no external resources; the CSP header forbids them anyway.
import type { Context } from "hono";
import type { AppEnv } from "./middleware.ts";
import { openApiDocument } from "./openapi.ts";

type Json = Record<string, any>; // walking a JSON document whose shape openapi.ts fixes

const esc = (text: unknown): string =>
  String(text ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

/** A short type for a JSON Schema: "string", "integer ≥ 1", "array of file", "x | y". */
function typeOf(s: Json): string {
  if ("const" in s) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(" | ");
  if (s.anyOf && !s.type) return s.anyOf.map(typeOf).join(" | ");
  if (s.type === "array") return `array of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.format === "binary") return "file";
  return s.type ?? "any";
}

function constraints(s: Json): string {
  const parts: string[] = [];
  if (s.pattern) parts.push(`pattern ${s.pattern}`);
  if (s.format && s.format !== "binary") parts.push(s.format);
  // zod bounds every integer by the safe-integer range: no news to a reader.
  if (s.minimum !== undefined && s.minimum > Number.MIN_SAFE_INTEGER) parts.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) parts.push(`≤ ${s.maximum}`);
  if (s.minItems !== undefined) parts.push(`≥ ${s.minItems} items`);
  if (s.maxItems !== undefined) parts.push(`≤ ${s.maxItems} items`);
  if (s.minLength !== undefined) parts.push(`length ≥ ${s.minLength}`);
  if (s.maxLength !== undefined) parts.push(`length ≤ ${s.maxLength}`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  const media = s.items?.anyOf?.map((m: Json) => m.contentMediaType).filter(Boolean);
  if (media?.length) parts.push(media.join(" or "));
  return parts.join(", ");
}

/** The fields of an object schema, nested ones as dotted paths (a.b, list[].c). */
function fields(s: Json, prefix = "", rows: string[] = []): string[] {
  for (const [name, p] of Object.entries<Json>(s.properties ?? {})) {
    const path = `${prefix}${name}`;
    const required = s.required?.includes(name) ? "yes" : "";
    rows.push(`<tr><td><code>${esc(path)}</code></td><td>${esc(typeOf(p))}</td><td>${required}</td><td>${esc(p.description)}${p.description && constraints(p) ? "; " : ""}${esc(constraints(p))}</td></tr>`);
    if (p.type === "object") fields(p, `${path}.`, rows);
    if (p.type === "array" && p.items?.type === "object") fields(p.items, `${path}[].`, rows);
  }
  return rows;
}

const table = (head: string[], rows: string[]) =>
  rows.length ? `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>` : "";

const schemaAnchor = (name: string) => `schema-${name}`;

function schemaBlock(schema: Json): string {
  if (schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    return `<p>Body: <a href="#${schemaAnchor(name)}">${esc(name)}</a></p>`;
  }
  // A union of objects (classify answers frames or a video): one table per variant.
  const tables = (schema.anyOf ?? [schema]).flatMap((variant: Json) => {
    const rows = fields(variant);
    return rows.length ? [`${variant.description ? `<p>${esc(variant.description)}</p>` : ""}${table(["field", "type", "required", "about"], rows)}`] : [];
  });
  const summary = tables.length ? tables.join("<p>or</p>") : `<p>${esc(typeOf(schema))}</p>`;
  return `${summary}<details><summary>JSON Schema</summary><pre>${esc(JSON.stringify(schema, null, 2))}</pre></details>`;
}

const SCHEME_NAMES: Record<string, string> = { apiKey: "API key", adminToken: "admin token" };

function operation(method: string, path: string, op: Json): string {
  const id = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, "-");
  const parts = [
    `<section id="${id}"><h2><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code>${op.security.map((s: Json) => ` <span class="key">${esc(SCHEME_NAMES[Object.keys(s)[0]] ?? Object.keys(s)[0])}</span>`).join("")}</h2>`,
    `<p><strong>${esc(op.summary)}</strong>. ${esc(op.description)}</p>`,
  ];
  if (op.parameters?.length) {
    const rows = op.parameters.map(
      (p: Json) => `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${esc(typeOf(p.schema))}</td><td>${p.required ? "yes" : ""}</td><td>${esc(p.description)}${p.description && constraints(p.schema) ? "; " : ""}${esc(constraints(p.schema))}</td></tr>`,
    );
    parts.push(`<h3>Parameters</h3>${table(["name", "in", "type", "required", "about"], rows)}`);
  }
  for (const [type, media] of Object.entries<Json>(op.requestBody?.content ?? {})) {
    parts.push(`<h3>Request body <code>${esc(type)}</code></h3>${schemaBlock(media.schema)}`);
  }
  parts.push("<h3>Responses</h3>");
  for (const [status, r] of Object.entries<Json>(op.responses)) {
    const [type, media] = Object.entries<Json>(r.content)[0];
    const headers = Object.entries<Json>(r.headers ?? {}).map(([h, d]) => `<code>${esc(h)}</code>: ${esc(d.description)}`);
    parts.push(
      `<h4><span class="s s${status[0]}">${esc(status)}</span> ${esc(r.description)} <code>${esc(type)}</code></h4>`,
      headers.length ? `<p class="headers">Headers: ${headers.join("; ")}</p>` : "",
      schemaBlock(media.schema),
      media.example !== undefined ? `<p>Example:</p><pre>${esc(JSON.stringify(media.example, null, 2))}</pre>` : "",
    );
  }
  return `${parts.join("\n")}</section>`;
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f5f5f5;padding:.6rem;overflow:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top}
section{border-top:2px solid #eee;margin-top:2rem}.m{color:#fff;padding:0 .4rem;border-radius:3px}.get{background:#2a7}.post{background:#27c}
.key{font-size:12px;border:1px solid #c80;color:#a60;padding:0 .3rem;border-radius:3px}.s{font-weight:bold}.s2{color:#2a7}.s4{color:#c60}.s5{color:#c22}
.headers{font-size:13px;color:#555}`;

export function renderDocs(doc: Json): string {
  const ops = Object.entries<Json>(doc.paths).flatMap(([path, methods]) => Object.entries<Json>(methods).map(([method, op]) => ({ method, path, op })));
  const nav = ops
    .map(({ method, path, op }) => `<li><a href="#${`${method}-${path}`.replace(/[^A-Za-z0-9]+/g, "-")}"><code>${method.toUpperCase()} ${esc(path)}</code></a> ${esc(op.summary)}</li>`)
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(doc.info.title)} API</title><style>${STYLE}</style></head><body>
<h1>${esc(doc.info.title)} API <small>v${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description)}</p>
<p>Authentication: <code>Authorization: Bearer &lt;key&gt;</code> (${esc(doc.components.securitySchemes.apiKey.description)}). The machine-readable document is <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI ${esc(doc.openapi)}).</p>
<ul>${nav}</ul>
${ops.map(({ method, path, op }) => operation(method, path, op)).join("\n")}
<section><h2>Schemas</h2>
${Object.entries<Json>(doc.components.schemas)
  .map(([name, schema]) => `<h3 id="${schemaAnchor(name)}">${esc(name)}</h3>${schemaBlock(schema)}`)
  .join("\n")}</section>
</body></html>`;
}

let cached: string | undefined;

export async function docs(c: Context<AppEnv>): Promise<Response> {
  c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  return c.html((cached ??= renderDocs(openApiDocument())));
}

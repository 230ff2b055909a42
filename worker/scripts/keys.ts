// `npm run keys -- create|list|revoke`: API keys for the Worker, managed with
// `wrangler kv key` on the API_KEYS namespace (local state by default, the
// deployed namespace with --remote). The key is printed once and never stored:
// KV gets its SHA-256 and the record (worker/src/keys.ts), which also rides as
// KV metadata so `list` needs one call. `revoke --url` also calls the Worker's
// admin route, which refuses the key at once (KV's edge caches may lag a minute).
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ApiKeyRecordSchema, RatePolicySchema, newKey, revokedRecord, storageKey, type ApiKeyRecord, type RatePolicy } from "../src/keys.ts";

const USAGE = `usage:
  npm run keys -- create --name NAME [--per-minute N --burst N]   prints the new key once
  npm run keys -- list                                             ids, names, dates, limits
  npm run keys -- revoke KEY_ID [--url WORKER_URL]                 marks the record revoked; with --url (and the
                                                                   ADMIN_TOKEN env var) the Worker refuses it at once
options for every command:
  --remote            the deployed namespace (default: local state, as used by npm start)
  --env NAME          a wrangler environment
  --persist-to DIR    local state directory (default: wrangler's .wrangler/state)`;

const REPO = fileURLToPath(new URL("../..", import.meta.url));

class CliError extends Error {}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        name: { type: "string" },
        "per-minute": { type: "string" },
        burst: { type: "string" },
        remote: { type: "boolean", default: false },
        env: { type: "string" },
        "persist-to": { type: "string" },
        url: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`keys: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();

function wrangler(args: string[]): string {
  const where = values.remote ? ["--remote"] : ["--local", ...(values["persist-to"] ? ["--persist-to", resolve(values["persist-to"])] : [])];
  const env = values.env ? ["--env", values.env] : [];
  // From the repository root, where wrangler.toml names the namespace.
  const r = spawnSync("npx", ["wrangler", "kv", "key", ...args, "--binding", "API_KEYS", ...where, ...env], { cwd: REPO, encoding: "utf8" });
  if (r.status !== 0) throw new CliError(`wrangler kv key ${args[0]} failed:\n${r.stderr || r.stdout}`);
  return r.stdout;
}

function put(storage: string, record: ApiKeyRecord): void {
  const json = JSON.stringify(record);
  wrangler(["put", storage, json, "--metadata", json]);
}

/** Every stored record with the KV key it lives under. */
function listRecords(): { storage: string; record: ApiKeyRecord }[] {
  const listed = JSON.parse(wrangler(["list", "--prefix", "sha256:"])) as { name: string; metadata?: unknown }[];
  return listed.map(({ name, metadata }) => {
    const parsed = ApiKeyRecordSchema.safeParse(metadata);
    if (!parsed.success) throw new CliError(`KV API_KEYS ${name} has no valid record in its metadata: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    return { storage: name, record: parsed.data };
  });
}

function ratePolicy(): RatePolicy | undefined {
  const perMinute = values["per-minute"];
  const burst = values.burst;
  if (perMinute === undefined && burst === undefined) return undefined;
  if (perMinute === undefined || burst === undefined) throw new CliError("--per-minute and --burst go together (the Worker's default applies when both are left out)");
  const parsed = RatePolicySchema.safeParse({ perMinute: Number(perMinute), burst: Number(burst) });
  if (!parsed.success) throw new CliError(`rate limit: ${parsed.error.issues.map((i) => `--${i.path.join(".") === "perMinute" ? "per-minute" : "burst"}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

async function create(): Promise<void> {
  if (!values.name?.trim()) throw new CliError("create needs --name NAME (who or what the key is for)");
  const { key, record } = newKey(values.name.trim(), ratePolicy());
  put(await storageKey(key), ApiKeyRecordSchema.parse(record));
  console.log(`created ${record.id} (${record.name}) in ${values.remote ? "the deployed" : "the local"} API_KEYS namespace`);
  console.log(`key (shown once, store it now): ${key}`);
  console.log(`use it as: Authorization: Bearer ${key}`);
}

function list(): void {
  const rows = listRecords().sort((a, b) => a.record.created.localeCompare(b.record.created));
  if (rows.length === 0) return console.log("no keys");
  for (const { record: r } of rows) {
    const limit = r.rateLimit ? `${r.rateLimit.perMinute}/min burst ${r.rateLimit.burst}` : "default limit";
    console.log([r.id, r.revoked ? `revoked ${r.revoked}` : "active", `created ${r.created}`, limit, r.name].join("  "));
  }
}

/** POST /admin/keys/:id/revoke: the key's Durable Object refuses it from the next request on. */
async function revokeNow(url: string, id: string): Promise<void> {
  const token = process.env.ADMIN_TOKEN;
  if (!token) throw new CliError("--url needs the Worker's admin token in the ADMIN_TOKEN environment variable");
  let res: Response;
  try {
    res = await fetch(new URL(`/admin/keys/${id}/revoke`, url), { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  } catch (e) {
    throw new CliError(`the KV record says revoked, but ${url} could not be reached (${(e as Error).message}); run revoke --url again`);
  }
  const body = (await res.json().catch(() => null)) as { revoked?: string; error?: { message?: string } } | null;
  if (!res.ok) throw new CliError(`the KV record says revoked, but ${url} answered ${res.status}: ${body?.error?.message ?? "(no JSON error)"}`);
  console.log(`${url} refuses ${id} from now on (revoked there at ${body?.revoked})`);
}

async function revoke(id: string | undefined): Promise<void> {
  if (!id) throw new CliError("revoke needs the key's id (key_…, see `npm run keys -- list`)");
  const found = listRecords().find((r) => r.record.id === id);
  if (!found) throw new CliError(`no key with id ${id} (see \`npm run keys -- list\`)`);
  if (found.record.revoked) {
    console.log(`${id} was already revoked at ${found.record.revoked}`);
  } else {
    const record = revokedRecord(found.record);
    put(found.storage, record);
    console.log(`revoked ${id} (${record.name}) at ${record.revoked}`);
  }
  if (values.url) await revokeNow(values.url, id);
}

try {
  const [command, ...rest] = positionals;
  if (values.help) console.log(USAGE);
  else if (command === "create" && rest.length === 0) await create();
  else if (command === "list" && rest.length === 0) list();
  else if (command === "revoke" && rest.length <= 1) await revoke(rest[0]);
  else throw new CliError(command ? `unknown command or extra arguments: ${positionals.join(" ")}` : "no command given");
} catch (e) {
  if (!(e instanceof CliError)) throw e;
  console.error(`keys: ${e.message}`);
  if (/command|given/.test(e.message)) console.error(USAGE);
  process.exit(1);
}

// Which URLs the Worker may fetch on a client's behalf. A client must not be
// able to make the Worker reach the operator's own network: loopback, private,
// link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, reserved
// addresses, and names that only resolve internally. Hostnames are checked as
// written; the WHATWG URL parser has already normalised IPv4 spellings
// (0x7f.1, 2130706433, 127.1 → 127.0.0.1) and IPv6 (compressed, lowercase).
// DNS names that resolve to private addresses cannot be checked here (no DNS
// API in a Worker); Cloudflare's fetch does not reach private networks itself.
import { userError } from "../errors.ts";

const ACCEPTED = "an http(s) URL of a publicly reachable host, without credentials";

/** IPv4 CIDR blocks that are not public unicast (RFC 6890 special-purpose registry). */
const IPV4_BLOCKS: [string, number, string][] = [
  ["0.0.0.0", 8, "unspecified ('this network')"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "6to4 relay anycast"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved (and broadcast)"],
];

/** Name suffixes that resolve only inside a private network. */
const INTERNAL_SUFFIXES = ["localhost", "local", "internal", "intranet", "lan", "home.arpa", "corp", "private"];

function ipv4(host: string): number | undefined {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function ipv4Problem(address: number): string | undefined {
  for (const [base, bits, what] of IPV4_BLOCKS) {
    const size = 2 ** (32 - bits);
    const start = ipv4(base)!;
    if (address >= start && address < start + size) return what;
  }
  return undefined;
}

/** The 8 16-bit groups of a normalised IPv6 literal (without brackets). */
function ipv6Groups(host: string): number[] | undefined {
  let text = host;
  // A trailing dotted IPv4 part (::ffff:1.2.3.4) becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4(dotted[1]);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, dotted.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<number>(Math.max(fill, 0)).fill(0), ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g)) ? groups : undefined;
}

function ipv6Problem(g: number[]): string | undefined {
  const embeddedV4 = (g[6] * 65536 + g[7]) >>> 0;
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(8)) return "unspecified";
  if (zeros(7) && g[7] === 1) return "loopback";
  if (zeros(5) && g[5] === 0xffff) return "IPv4-mapped";
  if (zeros(6)) return "IPv4-compatible";
  if ((g[0] & 0xfe00) === 0xfc00) return "unique local (ULA)";
  if ((g[0] & 0xffc0) === 0xfe80) return "link-local";
  if ((g[0] & 0xffc0) === 0xfec0) return "site-local";
  if ((g[0] & 0xff00) === 0xff00) return "multicast";
  if (g[0] === 0x2001 && g[1] === 0x0db8) return "documentation";
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address: judge that.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    const inner = ipv4Problem(embeddedV4);
    return inner && `NAT64 of a ${inner} IPv4 address`;
  }
  if (g[0] === 0x2002) {
    const inner = ipv4Problem((g[1] * 65536 + g[2]) >>> 0);
    return inner && `6to4 of a ${inner} IPv4 address`;
  }
  return undefined;
}

const article = (what: string) => (/^(?!uni)[aeiouI]/.test(what) ? `an ${what}` : `a ${what}`);

/** Why this hostname (as URL.hostname gives it) must not be fetched, or undefined. */
export function hostProblem(hostname: string): string | undefined {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "") return "an empty host";
  if (host.startsWith("[") && host.endsWith("]")) {
    const groups = ipv6Groups(host.slice(1, -1));
    if (!groups) return "an unparseable IPv6 address";
    const what = ipv6Problem(groups);
    return what && article(`${what} IPv6 address`);
  }
  const v4 = ipv4(host);
  if (v4 !== undefined) {
    const what = ipv4Problem(v4);
    return what && article(`${what} IPv4 address`);
  }
  if (/^[\d.]+$/.test(host)) return "a malformed IPv4 address";
  for (const suffix of INTERNAL_SUFFIXES) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return `an internal name (.${suffix})`;
  }
  // A single-label name (http://metadata/, http://intranet/) resolves through the
  // operator's search domains, never on the public internet.
  if (!host.includes(".")) return "a single-label (internal) name";
  return undefined;
}

/** Parses and vets a URL the client asked us to fetch; throws a 400 userError if refused. */
export function checkUrl(text: string, what = "url"): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw userError(400, "bad_url", `${what} is not a valid absolute URL: ${JSON.stringify(text.slice(0, 200))}`, ACCEPTED);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw userError(400, "url_scheme_refused", `${what} uses ${url.protocol.slice(0, -1)}:, only http and https are fetched`, ACCEPTED);
  }
  if (url.username !== "" || url.password !== "") {
    throw userError(400, "url_credentials_refused", `${what} carries credentials (user:password@); they are not sent`, ACCEPTED);
  }
  const problem = hostProblem(url.hostname);
  if (problem) {
    throw userError(400, "url_host_refused", `${what} names ${url.hostname}, ${problem}: the Worker fetches only public hosts`, ACCEPTED);
  }
  return url;
}

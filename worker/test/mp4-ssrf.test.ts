// urlSource refuses what a client must not make the Worker fetch: other schemes,
// credentials, loopback/private/link-local/CGNAT/multicast/reserved addresses in
// every spelling the URL parser accepts, internal names, and redirects to them.
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/errors.ts";
import { hostProblem } from "../src/mp4/ssrf.ts";
import { urlSource } from "../src/mp4/source.ts";

async function refused(url: string, code: string, fetches: string[] = []): Promise<ApiError> {
  const error = await urlSource(url, (u, init) => {
    fetches.push(u);
    return fetch(u, init);
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, url).toBeInstanceOf(ApiError);
  const e = error as ApiError;
  expect({ url, status: e.status, code: e.code }).toEqual({ url, status: 400, code });
  expect(e.accepted).toMatch(/publicly reachable/);
  return e;
}

const REFUSED_HOSTS = [
  // IPv4 loopback, private, link-local (cloud metadata), CGNAT, unspecified, multicast, reserved, broadcast
  "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.1.2", "172.16.0.1", "172.31.255.255", "192.168.1.1",
  "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
  "240.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1", "192.0.2.1",
  // IPv4 spellings the URL parser turns into the above
  "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "127.1", "0", "[::ffff:127.0.0.1]", "[::ffff:a9fe:a9fe]",
  // IPv6 loopback, unspecified, ULA, link-local, site-local, multicast, IPv4-compatible, NAT64 / 6to4 of private
  "[::1]", "[0:0:0:0:0:0:0:1]", "[::]", "[fc00::1]", "[fd12:3456:789a::1]", "[fe80::1]", "[febf::1]", "[fec0::1]",
  "[ff02::1]", "[::127.0.0.1]", "[64:ff9b::a00:1]", "[2002:c0a8:101::1]", "[2001:db8::1]",
  // internal names
  "localhost", "LOCALHOST", "localhost.", "api.localhost", "metadata.google.internal", "printer.local", "nas.lan",
  "router.home.arpa", "metadata", "intranet",
];

describe("urlSource refuses", () => {
  it("schemes other than http and https, without fetching", async () => {
    const fetches: string[] = [];
    for (const url of ["file:///etc/passwd", "ftp://videos.example.test/a.mp4", "data:video/mp4;base64,AAAA", "gopher://x.example/", "ws://videos.example.test/"]) {
      const e = await refused(url, "url_scheme_refused", fetches);
      expect(e.message).toMatch(/only http and https/);
    }
    expect(fetches).toEqual([]);
  });

  it("URLs with credentials", async () => {
    for (const url of ["https://user:pw@videos.example.test/v/baseline.mp4", "https://user@videos.example.test/v/baseline.mp4"]) {
      expect((await refused(url, "url_credentials_refused")).message).toMatch(/credentials/);
    }
  });

  it("something that is not a URL", () => refused("videos.example.test/v/baseline.mp4", "bad_url"));

  it(`${REFUSED_HOSTS.length} non-public hosts, in every spelling, without fetching`, async () => {
    const fetches: string[] = [];
    for (const host of REFUSED_HOSTS) {
      for (const scheme of ["http", "https"]) {
        const e = await refused(`${scheme}://${host}:8080/video.mp4`, "url_host_refused", fetches);
        expect(e.message).toMatch(/the Worker fetches only public hosts/);
      }
    }
    expect(fetches).toEqual([]);
  });

  it("names the kind of address", () => {
    expect(hostProblem("169.254.169.254")).toBe("a link-local IPv4 address");
    expect(hostProblem("100.64.1.1")).toBe("a carrier-grade NAT IPv4 address");
    expect(hostProblem("[fd00::1]")).toBe("a unique local (ULA) IPv6 address");
    expect(hostProblem("[::ffff:8.8.8.8]")).toBe("an IPv4-mapped IPv6 address");
    expect(hostProblem("[fe80::1]")).toBe("a link-local IPv6 address");
    expect(hostProblem("0.0.0.0")).toBe("an unspecified ('this network') IPv4 address");
    expect(hostProblem("metadata.google.internal")).toBe("an internal name (.internal)");
  });

  it("lets public hosts through", () => {
    for (const host of ["videos.example.test", "example.com", "8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "[2606:4700:4700::1111]", "[64:ff9b::808:808]", "localhost.example.com"]) {
      expect(hostProblem(host), host).toBeUndefined();
    }
  });

  it("redirects to non-public hosts or other schemes (checked before following)", async () => {
    for (const [target, code] of [
      ["http://127.0.0.1/x.mp4", "url_host_refused"],
      ["http://169.254.169.254/latest/meta-data/", "url_host_refused"],
      ["http://[::1]/x.mp4", "url_host_refused"],
      ["http://localhost:8787/x.mp4", "url_host_refused"],
      ["file:///etc/passwd", "url_scheme_refused"],
      ["https://u:p@videos.example.test/v/baseline.mp4", "url_credentials_refused"],
    ]) {
      const fetches: string[] = [];
      const e = await refused(`https://videos.example.test/to?location=${encodeURIComponent(target)}`, code, fetches);
      expect(e.message).toMatch(/the redirect from videos\.example\.test/);
      expect(fetches).toHaveLength(1); // the redirect itself, never its target
    }
  });
});

// CSV and WebVTT from a hand-made job: the exact bytes, RFC 4180 quoting,
// WebVTT's timestamps and cue-text escaping.
import { describe, expect, it } from "vitest";
import { csvField, renderCsv, renderVtt, vttTime } from "../src/jobs/render.ts";
import { handMadeJob } from "./fixtures/job.ts";

describe("renderCsv", () => {
  it("one row per clip in id order, failed clips with their reason, a column per label", () => {
    expect(renderCsv(handMadeJob())).toBe(
      'clip,start,end,label,score,error,walk,"run, fast","say ""hi"" <now> & -->"\r\n' +
        "0,0.000,2.000,walk,0.7000,,0.7000,0.2000,0.1000\r\n" +
        "1,2.000,4.000,walk,0.6000,,0.6000,0.3000,0.1000\r\n" +
        '2,4.000,6.000,,,"decode_failed: bad ""frame"", at 4s",,,\r\n' +
        '3,6.000,3725.500,"run, fast",0.8500,,0.1000,0.8500,0.0500\r\n',
    );
  });

  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "x"', '"say ""x"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\r", '"cr\r"'],
    ["", ""],
  ])("csvField(%j) is %j", (value, quoted) => {
    expect(csvField(value)).toBe(quoted);
  });
});

describe("renderVtt", () => {
  it("a cue per segment with label and mean score", () => {
    expect(renderVtt(handMadeJob())).toBe(
      "WEBVTT\n\nNOTE edgevid job job_0123456789abcdef, model x3d-tiny-synthetic@1: the top label of each run of clips, with its mean score\n" +
        "\n1\n00:00:00.000 --> 00:00:04.000\nwalk (0.65)\n" +
        "\n2\n00:00:06.000 --> 01:02:05.500\nrun, fast (0.85)\n",
    );
  });

  it("escapes cue text: markup and arrows cannot break the track", () => {
    const job = handMadeJob();
    job.segments = [{ start: 1, end: 2, label: 'say "hi" <now> & -->\nx', score: 0.5, clips: 1 }];
    expect(renderVtt(job).split("\n").slice(-3)).toEqual(["00:00:01.000 --> 00:00:02.000", 'say "hi" &lt;now&gt; &amp; --&gt; x (0.50)', ""]);
  });

  it.each([
    [0, "00:00:00.000"],
    [1.0004, "00:00:01.000"],
    [59.9996, "00:01:00.000"],
    [3599.9994, "00:59:59.999"],
    [3725.5, "01:02:05.500"],
    [360000.25, "100:00:00.250"],
    [-0.5, "00:00:00.000"],
  ])("vttTime(%d) is %s", (s, text) => {
    expect(vttTime(s)).toBe(text);
  });
});

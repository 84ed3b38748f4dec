// The test reader of the Prometheus text format refuses what Prometheus would refuse, so a test that
// parses /metrics with it proves the exposition valid.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePrometheusText, valueOf } from "../helpers/prometheus-text.js";

const VALID = `# HELP a_total Things.
# TYPE a_total counter
a_total{kind="x",path="C:\\\\dir \\"q\\"\\n"} 3
a_total{kind="y"} 1e3

# HELP h Latency.
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 2
h_sum 0.6
h_count 2
# TYPE g gauge
g Nan
`;

describe("the Prometheus text reader used by the tests", () => {
  it("reads families, escaped label values, histograms and special values", () => {
    const families = parsePrometheusText(VALID);
    assert.deepEqual([...families.keys()], ["a_total", "h", "g"]);
    assert.equal(valueOf(families, "a_total", { kind: "x", path: 'C:\\dir "q"\n' }), 3);
    assert.equal(valueOf(families, "a_total", { kind: "y" }), 1000);
    assert.equal(valueOf(families, "h_count"), 2);
    assert.ok(Number.isNaN(families.get("g")!.samples[0]!.value));
  });

  it("refuses what Prometheus would not read", () => {
    const bad: Record<string, string> = {
      "bad metric name": "# TYPE 1a counter\n1a 1\n",
      "bad label name": 'a{1x="v"} 1\n',
      "unquoted label value": "a{x=v} 1\n",
      "bad escape": 'a{x="\\t"} 1\n',
      "bad value": "a 1,5\n",
      "no newline at the end": "a 1",
      "TYPE after samples": "a 1\n# TYPE a gauge\n",
      "a family split in two": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"y\"} 2\n",
      "a repeated series": "a{x=\"1\"} 1\na{x=\"1\"} 2\n",
      "a negative counter": "# TYPE c_total counter\nc_total -1\n",
      "an unknown TYPE": "# TYPE a thing\na 1\n",
      "buckets that are not cumulative": '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      "a histogram without +Inf": '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n',
      "a _count that is not the +Inf bucket": '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    };
    for (const [what, text] of Object.entries(bad)) assert.throws(() => parsePrometheusText(text), Error, what);
  });
});

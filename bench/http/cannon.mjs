// Child process: one autocannon run, options as JSON in argv[2], the summary as JSON on stdout.
// A separate process so the load generator does not share the server's event loop; plain JS so it starts fast.
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2] ?? '{}');
const result = await autocannon({ connections: 10, ...opts });
const { requests, latency, non2xx, errors, timeouts } = result;
process.stdout.write(JSON.stringify({ rps: requests.average, total: requests.total, p50: latency.p50, p99: latency.p99, non2xx, errors, timeouts }));

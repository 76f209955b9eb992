// Package conformance runs external conformance suites against a running
// kumo, through real sockets. It has no non-test code: its tests start kumo's
// runtime with a stack made for one suite, run the suite's own client, and
// hold kumo's score to a floor so that a regression fails CI.
//
// TestHTTPCacheTests runs the HTTP caching test suite (npm
// http-cache-tests, https://cache-tests.fyi) with its driver and stack in
// bench/cache-tests/; bench/cache-tests.sh runs the same suite against kumo
// and against nginx, Varnish, Apache Traffic Server and Squid side by side.
//
// TestH2Spec runs h2spec (HTTP/2 conformance) against the viewer HTTPS
// listener and holds kumo to an exact list of known failures.
package conformance

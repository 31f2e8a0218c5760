// Promise.withResolvers (Node 22) for PostGraphile v5, which calls it and which the benchmark runs on
// Node 20: preloaded with --require into the PostGraphile process only, and a no-op where Node has it.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

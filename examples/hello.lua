-- The smallest tour: console formatting, a timer awaited at top level,
-- and a promise chain.
local os = require('os')

console.log('Hello from luster %s on %d CPUs', process.version, #os.cpus())
console.log('a big whole number:', 881999979000000, 'and a table:', { a = 1, list = { 1, 2, 3 } })

local t0 = process.hrtime()
await(Promise.new(function(resolve) setTimeout(resolve, 100) end))
local dt = process.hrtime(t0)
console.log('awaited a 100 ms timer: %d ms later', math.floor(dt[1] * 1e3 + dt[2] / 1e6))

local doubled = await(Promise.resolve(21):next(function(x) return x * 2 end))
console.log('promise chain gave', doubled)

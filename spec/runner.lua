--- Runs busted (Debian's lua-busted) inside luster, so specs use the real
--- runtime: they can require('worker_threads'), use the globals, and await.
---   luster spec/runner.lua spec/some_spec.lua [busted options]
--- Each `it` runs inside the entry coroutine; an `await` in a test suspends
--- the whole run while the loop works, then busted carries on.
package.path = package.path .. ';' .. (__dirname .. '/?.lua')
-- busted exits with os.exit(failures) itself when it believes it was not
-- started from a file; a chunk without a file name makes it believe that.
local start = loadstring("local r = require('busted.runner')({ standalone = false }); return r", '=busted')
start()

--- luster.test — the test runner: busted (Debian's lua-busted) inside the
--- luster runtime, so specs use the real runtime: globals, require of the
--- builtins, `await`, Workers, servers.
---   luster test [busted options] [paths...]     (default path: ./spec)
--- Each `it` runs inside the entry coroutine: an `await` in a test suspends
--- the whole run while the loop works, then busted carries on.  The run
--- ends when the loop is idle (a spec must close what it opens); the exit
--- code is 0 when everything passed and 1 otherwise.
local M = {}

--- Run busted on `args` (a list of command-line words; default _G.arg).
function M.run(args)
  if args then _G.arg = args end
  local ok, err = pcall(require, 'busted.runner')
  if not ok then
    io.stderr:write('luster test: busted is not installed (Debian: apt-get install lua-busted)\n',
                    tostring(err), '\n')
    os.exit(1, true)
  end
  -- busted exits with os.exit(1) on failures only when it believes it was
  -- not started from a file; a chunk without a file name makes it believe
  -- that (from a file it would raise instead).  Not a tail call: busted
  -- looks at its caller's source.
  local start = loadstring("local r = require('busted.runner')({ standalone = false }); return r",
                           '=luster test')
  -- A test that awaits something nobody will ever settle leaves the loop
  -- idle and the process would end as if the run were over, with exit 0
  -- and the remaining tests never run.  Until busted is through, the exit
  -- code says failure and the reason is printed.
  local done = false
  process.exitCode = 1
  process:on('exit', function()
    if not done then
      io.stderr:write('luster test: the run stopped before its end: a test awaited something that never ',
                      'settled and nothing else was left for the loop to do\n')
      process.exitCode = 1
    end
  end)
  start()
  done = true
  if process.exitCode == 1 then process.exitCode = 0 end
end

return M

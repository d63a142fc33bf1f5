-- The script examples/embed/embed.c runs: it uses the C module the host
-- registered, awaits a timer, and leaves a handler for the host to call.
local greeter = require('greeter')

console.log(greeter.greet('embedder'))

function handle(what)
  -- runs in a runtime coroutine, so it may await
  local v = await(Promise.new(function(resolve) setTimeout(resolve, 10, what) end))
  console.log('handled ' .. v)
end

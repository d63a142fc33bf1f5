--- The project's spec runner: `luster spec/runner.lua spec/some_spec.lua
--- [busted options]` is `luster test` (lua/luster/test.lua) with spec/ on
--- package.path, so specs can require('helpers.child').
package.path = package.path .. ';' .. (__dirname .. '/?.lua')
require('luster.test').run()

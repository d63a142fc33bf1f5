-- url: the web-platform-tests URL data (urltestdata.json, setters_tests.json)
-- run as a spec.  The files are not in the repository; scripts/fetch-url-testdata
-- puts them in spec/fixtures/wpt/ (without them every test here is pending).
local json = require('json')
local url = require('url')
local URL = url.URL

local DIR = __dirname .. '/fixtures/wpt/'

-- JSON text with lone UTF-16 surrogate escapes (the data has a few, which
-- lua-cjson refuses) replaced by U+FFFD: a JavaScript URL parser sees its
-- input as a USVString, which makes that same replacement.
local function load(name)
  local f = io.open(DIR .. name, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  s = s:gsub('\\u([dD][89abAB]%x%x)\\u([dD][c-fC-F]%x%x)', '\\u%1\0\\u%2')
  s = s:gsub('\\u[dD][89a-fA-F]%x%x', '\\uFFFD'):gsub('\\u([dD][89abAB]%x%x)%z\\u', '\\u%1\\u')
  return json.decode(s)
end

local FIELDS = { 'href', 'protocol', 'username', 'password', 'host', 'hostname', 'port',
  'pathname', 'search', 'hash', 'origin' }

-- Setter cases whose expectation this copy of the data has from before the
-- Standard changed; luster does what the Standard (and Node 20) does now.
local OUTDATED = {
  -- hostname setter: a ':' in the value now leaves the host as it was
  ['hostname http://example.net/path example.com:8080'] = true,
  ['hostname http://example.net:8080/path example.com:'] = true,
  -- pathname setter: file: paths no longer drop leading empty segments
  ['pathname file://monkey/ \\\\'] = true,
  ['pathname file:///unicorn //\\/'] = true,
  ['pathname file:///unicorn //monkey/..//'] = true,
}

local function printable(s)
  return (tostring(s):gsub('[%z\1-\31\127-\255]', function(c) return ('\\x%02x'):format(c:byte()) end))
end

describe('WHATWG urltestdata.json', function()
  local data = load('urltestdata.json')
  if not data then
    it('needs spec/fixtures/wpt/urltestdata.json', function()
      pending('run scripts/fetch-url-testdata to fetch the WHATWG URL test data')
    end)
    return
  end
  for i, t in ipairs(data) do
    if type(t) == 'table' then
      local base = t.base ~= json.null and t.base or nil
      local name = ('#%d %s against %s'):format(i, printable(t.input), printable(base))
      if t.failure then
        it('refuses ' .. name, function()
          assert.is_false(URL.canParse(t.input, base))
          local ok, err = pcall(URL, t.input, base)
          assert.is_false(ok)
          assert.are.equal('ERR_INVALID_URL', err.code)
        end)
      else
        it('parses ' .. name, function()
          local u = URL(t.input, base)
          for _, f in ipairs(FIELDS) do
            if t[f] ~= nil then assert.are.equal(t[f], u[f], f) end
          end
        end)
      end
    end
  end
end)

describe('WHATWG setters_tests.json', function()
  local data = load('setters_tests.json')
  if not data then
    it('needs spec/fixtures/wpt/setters_tests.json', function()
      pending('run scripts/fetch-url-testdata to fetch the WHATWG URL test data')
    end)
    return
  end
  local setters = {}
  for k in pairs(data) do if k ~= 'comment' then setters[#setters + 1] = k end end
  table.sort(setters)
  for _, setter in ipairs(setters) do
    for i, t in ipairs(data[setter]) do
      local key = setter .. ' ' .. t.href .. ' ' .. t.new_value
      local name = ('%s #%d: %s on %s'):format(setter, i, printable(t.new_value), printable(t.href))
      if OUTDATED[key] then
        it('sets ' .. name, function() pending('the data predates a change of the Standard') end)
      else
        it('sets ' .. name, function()
          local u = URL(t.href)
          u[setter] = t.new_value
          for f, want in pairs(t.expected) do assert.are.equal(want, u[f], f) end
        end)
      end
    end
  end
end)

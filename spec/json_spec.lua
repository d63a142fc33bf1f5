-- json (API.md "require": json, cjson).
local json = require('json')

local function raises(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return e
end

describe('json.encode', function()
  it('writes scalars', function()
    assert.are.equal('1', json.encode(1))
    assert.are.equal('1.5', json.encode(1.5))
    assert.are.equal('true', json.encode(true))
    assert.are.equal('"hi"', json.encode('hi'))
    assert.are.equal('null', json.encode(json.null))
    assert.are.equal('null', json.encode(nil))
  end)

  it('writes a list as an array and a record as an object', function()
    assert.are.equal('[1,2,3]', json.encode({ 1, 2, 3 }))
    assert.are.equal('{"a":1}', json.encode({ a = 1 }))
    assert.are.same({ a = { 1, 2, { b = 'c' } } }, json.decode(json.encode({ a = { 1, 2, { b = 'c' } } })))
  end)

  it('writes an empty table as {}', function()
    assert.are.equal('{}', json.encode({}))
  end)

  it('writes holes in a list as null', function()
    assert.are.equal('[1,null,3]', json.encode({ 1, nil, 3 }))
    assert.are.equal('[1,null]', json.encode({ 1, json.null }))
  end)

  it('writes a very sparse list as an object instead of failing', function()
    local s = json.encode({ [1] = 'a', [50] = 'b' })
    assert.are.same({ ['1'] = 'a', ['50'] = 'b' }, json.decode(s))
  end)

  it('escapes quotes, backslashes and control characters', function()
    local s = 'say "hi"\\\n\t\1'
    assert.are.equal(s, json.decode(json.encode(s)))
    assert.are.equal('"say \\"hi\\"\\\\\\n\\t\\u0001"', json.encode(s))
  end)

  it('keeps UTF-8 text as it is', function()
    assert.are.equal('"héllo ✓"', json.encode('héllo ✓'))
  end)

  it('writes whole numbers up to 2^53 exactly, without an exponent', function()
    assert.are.equal('881999979000000', json.encode(881999979000000))
    assert.are.equal('9007199254740992', json.encode(2 ^ 53))
    assert.are.equal('[1000000000000001]', json.encode({ 1e15 + 1 }))
    assert.are.equal(2 ^ 53, json.decode(json.encode({ n = 2 ^ 53 })).n)
  end)

  it('writes fractions with enough digits to read back the same number', function()
    assert.are.equal('0.3333333333333333', json.encode(1 / 3))
    assert.are.equal('0.30000000000000004', json.encode(0.1 + 0.2))
    assert.are.equal('0.1', json.encode(0.1))
    for _, n in ipairs({ 1 / 3, 2 / 3, math.pi, 1e-10 / 3, 123456.789012345 }) do
      assert.are.equal(n, json.decode(json.encode(n)))
    end
  end)

  it('writes exact numbers inside tables that also hold strings with slashes', function()
    local s = json.encode({ id = 881999979000000, path = 'a/b' })
    assert.are.same({ id = 881999979000000, path = 'a/b' }, json.decode(s))
  end)

  it('raises ERR_INVALID_ARG_TYPE for a function', function()
    local e = raises(json.encode, { f = print })
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    assert.matches('function', e.message)
  end)

  it('raises for NaN and infinity', function()
    assert.are.equal('ERR_INVALID_ARG_TYPE', raises(json.encode, 0 / 0).code)
    assert.are.equal('ERR_INVALID_ARG_TYPE', raises(json.encode, { 1 / 0 }).code)
  end)

  it('raises for a table that contains itself instead of looping', function()
    local t = { 1 / 3 }
    t.self = t
    assert.are.equal('ERR_INVALID_ARG_TYPE', raises(json.encode, t).code)
    local u = {}
    u[1] = u
    assert.are.equal('ERR_INVALID_ARG_TYPE', raises(json.encode, u).code)
  end)

  it('has stringify as another name', function()
    assert.are.equal(json.encode, json.stringify)
  end)
end)

describe('json.decode', function()
  it('reads objects, arrays and scalars', function()
    local v = json.decode('{"a":[1,2,{"b":"c"}],"t":true,"f":false,"n":1.5}')
    assert.are.same({ a = { 1, 2, { b = 'c' } }, t = true, f = false, n = 1.5 }, v)
    assert.are.equal(5, json.decode('5'))
    assert.are.equal('s', json.decode('"s"'))
  end)

  it('reads null as json.null, which is not nil', function()
    local v = json.decode('{"x":null,"list":[null,1]}')
    assert.are.equal(json.null, v.x)
    assert.are_not.equal(nil, v.x)
    assert.are.equal(json.null, v.list[1])
    assert.are.equal(1, v.list[2])
  end)

  it('reads \\u escapes as UTF-8', function()
    assert.are.equal('é✓', json.decode('"\\u00e9\\u2713"'))
  end)

  it('reads large whole numbers exactly', function()
    assert.are.equal(881999979000000, json.decode('881999979000000'))
    assert.are.equal(2 ^ 53, json.decode('9007199254740992'))
  end)

  it('raises ERR_INVALID_JSON for text that is not JSON', function()
    local e = raises(json.decode, '{bad')
    assert.are.equal('ERR_INVALID_JSON', e.code)
    assert.matches('character 2', e.message)
    assert.are.equal('ERR_INVALID_JSON', raises(json.decode, '').code)
    assert.are.equal('ERR_INVALID_JSON', raises(json.decode, '[1,]').code)
  end)

  it('raises ERR_INVALID_ARG_TYPE for something that is not a string', function()
    assert.are.equal('ERR_INVALID_ARG_TYPE', raises(json.decode, nil).code)
    assert.are.equal('ERR_INVALID_ARG_TYPE', raises(json.decode, {}).code)
  end)

  it('returns nil and a message instead of raising with { safe = true }', function()
    local v, err = json.decode('{bad', { safe = true })
    assert.is_nil(v)
    assert.are.equal('string', type(err))
    assert.matches('character 2', err)
    local v2, err2 = json.decode(nil, { safe = true })
    assert.is_nil(v2)
    assert.are.equal('string', type(err2))
  end)

  it('returns the value with { safe = true } when the text is valid', function()
    local v, err = json.decode('[1]', { safe = true })
    assert.are.same({ 1 }, v)
    assert.is_nil(err)
  end)

  it('has parse as another name', function()
    assert.are.equal(json.decode, json.parse)
  end)
end)

describe('json array and object marks', function()
  it('writes a table marked with json.array as [] when empty', function()
    assert.are.equal('[]', json.encode(json.array()))
    assert.are.equal('[]', json.encode(json.array({})))
    assert.are.equal('[[],{}]', json.encode({ json.array(), {} }))
    assert.are.equal('{"items":[]}', json.encode({ items = json.array() }))
  end)

  it('gives json.empty_array, which writes as [] and cannot be changed', function()
    assert.are.equal('[]', json.encode(json.empty_array))
    assert.are.equal('[[],[]]', json.encode({ json.empty_array, json.empty_array }))
    assert.is_false(pcall(function() json.empty_array[1] = 1 end))
    assert.is_nil(next(json.empty_array))
  end)

  it('returns the table it marks and keeps a marked list an array', function()
    local t = { 1, 2 }
    assert.are.equal(t, json.array(t))
    assert.are.equal('[1,2]', json.encode(t))
    assert.are.equal('[1,null,null,null,null,null,null,null,null,null,null,null,2]',
      json.encode(json.array({ [1] = 1, [13] = 2 })))
  end)

  it('writes a list marked with json.object as an object', function()
    assert.are.same({ ['1'] = 'a', ['2'] = 'b' }, json.decode(json.encode(json.object({ 'a', 'b' }))))
    assert.are.equal('{}', json.encode(json.object()))
  end)

  it('honours a dkjson-style __jsontype metatable', function()
    assert.are.equal('[]', json.encode(setmetatable({}, { __jsontype = 'array' })))
  end)

  it('writes exact numbers inside marked tables', function()
    assert.are.equal('[[],9007199254740992]', json.encode({ json.array(), 2 ^ 53 }))
  end)

  it('raises ERR_INVALID_ARG_TYPE when asked to mark something that is not a table', function()
    assert.are.equal('ERR_INVALID_ARG_TYPE', raises(json.array, 5).code)
  end)

  it('reads [] as a marked empty table, so that it writes back as []', function()
    local v = json.decode('{"a":[],"b":{},"c":[ \n ],"d":[1,[]]}')
    assert.is_nil(next(v.a))
    assert.are.equal('array', getmetatable(v.a).__jsontype)
    assert.is_nil(getmetatable(v.b))
    assert.are.equal('[]', json.encode(json.decode('[]')))
    assert.are.same(json.decode('{"a":[],"b":{},"c":[],"d":[1,[]]}'), v)
    assert.are.equal('[[],{},[],[1,[]]]', json.encode({ v.a, v.b, v.c, v.d }))
  end)

  it('leaves [] inside strings alone when reading', function()
    local v = json.decode('{"s":"[]","e":"x\\"[]","t":["[ ]"]}')
    assert.are.same({ s = '[]', e = 'x"[]', t = { '[ ]' } }, v)
  end)

  it('reports parse errors at positions in the original text when it has []', function()
    local _, err = json.decode('[[], {bad', { safe = true })
    assert.matches('character 7', err)
  end)
end)

describe('cjson', function()
  it('is available as a module too', function()
    local cjson = require('cjson')
    assert.are.same({ a = 1 }, cjson.decode('{"a":1}'))
    assert.are.equal(json.null, cjson.null)
  end)
  describe('slashes', function()
    it('writes / unescaped, as JSON.stringify does, and keeps a backslash before one', function()
      assert.are.equal('{"u":"http://x/y"}', json.encode({ u = 'http://x/y' }))
      assert.are.equal('"a\\\\/b"', json.encode('a\\/b'))
      assert.are.equal('a\\/b', json.decode(json.encode('a\\/b')))
    end)
  end)
end)

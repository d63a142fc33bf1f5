-- Structured clone (API.md "worker_threads", "Structured clone").
local ffi = require('ffi')
local clone = require('native.clone')

local function copy(v, transfer) return clone.decode(clone.encode(v, transfer)) end

local function err_of(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return e
end

local function clone_error(v, transfer, mode)
  local e = err_of(clone.encode, v, transfer, mode)
  assert.are.equal('DataCloneError', e.code)
  return e.message
end

describe('structured clone of plain values', function()
  it('keeps nil, booleans and strings', function()
    assert.is_nil(copy(nil))
    assert.are.equal(true, copy(true))
    assert.are.equal(false, copy(false))
    assert.are.equal('héllo', copy('héllo'))
  end)

  it('keeps binary strings byte for byte', function()
    local s = 'a\0b\255\1' .. string.rep('\0', 300)
    assert.are.equal(s, copy(s))
  end)

  it('keeps numbers exact, including NaN, infinities and -0', function()
    for _, n in ipairs({ 0, 1, -1, 2 ^ 53 - 1, -(2 ^ 53 - 1), 2 ^ 53 + 2, 0.1, 1e300, -5e-324 }) do
      assert.are.equal(n, copy(n))
    end
    local nan = copy(0 / 0)
    assert.is_true(nan ~= nan)
    assert.are.equal(math.huge, copy(math.huge))
    assert.are.equal(-math.huge, copy(-math.huge))
    assert.are.equal(-math.huge, 1 / copy(-0.0))
  end)

  it('keeps nested tables with array and hash parts', function()
    local v = { 1, 2, { 3, { 4 } }, name = 'x', nested = { deep = { list = { 'a', 'b' } } } }
    assert.are.same(v, copy(v))
  end)

  it('keeps holes in arrays', function()
    local v = copy({ 1, nil, 3 })
    assert.are.equal(1, v[1])
    assert.is_nil(v[2])
    assert.are.equal(3, v[3])
  end)

  it('keeps keys of any clonable type', function()
    local k = { id = 1 }
    local v = copy({ [true] = 'yes', [1.5] = 'float', [-3] = 'neg', [k] = 'table' })
    assert.are.equal('yes', v[true])
    assert.are.equal('float', v[1.5])
    assert.are.equal('neg', v[-3])
    local tk
    for key, val in pairs(v) do if type(key) == 'table' then tk = key; assert.are.equal('table', val) end end
    assert.are.same({ id = 1 }, tk)
  end)

  it('preserves shared references and cycles', function()
    local shared = { n = 1 }
    local root = { a = shared, b = shared }
    root.self = root
    local r = copy(root)
    assert.are.equal(r.a, r.b)
    assert.are.equal(r, r.self)
    assert.are_not.equal(shared, r.a)
  end)

  it('drops metatables', function()
    local v = copy(setmetatable({ x = 1 }, { __index = function() return 'meta' end }))
    assert.is_nil(getmetatable(v))
    assert.is_nil(v.y)
  end)

  it('keeps json.null', function()
    local null = require('cjson').null
    local v = copy({ a = null })
    assert.are.equal(null, v.a)
  end)

  it('keeps int64 and uint64 cdata exact', function()
    local v = copy({ i = -0x7fffffffffffffffLL, u = 0xfedcba9876543210ULL })
    assert.is_true(ffi.istype('int64_t', v.i))
    assert.is_true(v.i == -0x7fffffffffffffffLL)
    assert.is_true(ffi.istype('uint64_t', v.u))
    assert.is_true(v.u == 0xfedcba9876543210ULL)
  end)

  it('refuses nesting deeper than its limit', function()
    local t = {}
    local cur = t
    for _ = 1, 600 do cur.x = {}; cur = cur.x end
    assert.matches('too deeply', clone_error(t))
    local ok = {}
    cur = ok
    for _ = 1, 100 do cur.x = {}; cur = cur.x end
    assert.is_table(copy(ok).x.x.x)
  end)
end)

describe('structured clone of shared memory and buffers', function()
  it('shares a SharedArrayBuffer instead of copying it', function()
    local sab = SharedArrayBuffer(8)
    local r = copy({ buf = sab })
    Int32Array(r.buf)[0] = 123
    assert.are.equal(123, Int32Array(sab)[0])
    assert.is_true(r.buf == sab)
  end)

  it('shares views over a SharedArrayBuffer with their offset and length', function()
    local sab = SharedArrayBuffer(16)
    local r = copy(Int16Array(sab, 4, 3))
    assert.are.equal(3, #r)
    assert.are.equal(4, r.byteOffset)
    r[0] = 7
    assert.are.equal(7, Int16Array(sab)[2])
  end)

  it('copies an ArrayBuffer and its views', function()
    local ab = ArrayBuffer(4)
    local v = Uint8Array(ab)
    v[0] = 1
    local m = clone.encode({ ab = ab, v = v })
    v[0] = 2 -- after encoding: the copy must not see it
    local r = clone.decode(m)
    assert.are.equal(1, Uint8Array(r.ab)[0])
    assert.are.equal(1, r.v[0])
    r.v[1] = 9 -- the decoded view and buffer are one memory
    assert.are.equal(9, Uint8Array(r.ab)[1])
    assert.are.equal(0, v[1])
  end)

  it('moves a transferred ArrayBuffer and detaches the source', function()
    local ab = ArrayBuffer(4)
    local v = Uint8Array(ab)
    v[3] = 77
    local r = copy({ v = v }, { ab })
    assert.are.equal(77, r.v[3])
    assert.are.equal(0, ab.byteLength)
    assert.are.equal(0, #v)
    assert.are.equal(4, r.v.buffer.byteLength)
  end)

  it('gives each decode of a moved buffer its own memory', function()
    local ab = ArrayBuffer(4)
    local m = clone.encode(ab, { ab })
    local a, b = clone.decode(m), clone.decode(m)
    Uint8Array(a)[0] = 5
    assert.are.equal(0, Uint8Array(b)[0])
  end)
end)

describe('DataCloneError', function()
  it('names the path of a function', function()
    assert.matches('value%.handlers%[2%]', clone_error({ handlers = { 1, print } }))
  end)

  it('quotes keys that are not identifiers', function()
    assert.matches('value%["a b"%]%[3%]', clone_error({ ['a b'] = { 1, 2, coroutine.create(print) } }))
  end)

  it('refuses userdata and foreign cdata', function()
    assert.matches('userdata', clone_error({ io.stdout }))
    assert.matches('cdata', clone_error({ x = ffi.new('int[2]') }))
  end)

  it('sends nothing and detaches nothing when any part fails', function()
    local ab = ArrayBuffer(8)
    clone_error({ ab, print }, { ab })
    assert.are.equal(8, ab.byteLength)
  end)

  it('refuses a transferList with duplicates or detached buffers', function()
    local ab = ArrayBuffer(8)
    assert.matches('twice', clone_error(ab, { ab, ab }))
    clone.encode(nil, { ab })
    assert.are.equal(0, ab.byteLength)
    assert.matches('detached', clone_error(nil, { ab }))
    assert.matches('detached', clone_error(ab))
  end)

  it('refuses to transfer a SharedArrayBuffer or a plain value', function()
    assert.matches('transferList%[1%]', clone_error(nil, { SharedArrayBuffer(4) }))
    assert.matches('not transferable', clone_error(nil, { {} }))
  end)

  it('refuses an ArrayBuffer marked as untransferable', function()
    local ab = ArrayBuffer(4)
    require('luster.buffers').markAsUntransferable(ab)
    assert.matches('untransferable', clone_error(nil, { ab }))
  end)
end)

describe('structured clone between processes', function()
  it('round-trips through flat bytes', function()
    local v = { 1, 'two', { three = 3 }, buf = Uint8Array({ 1, 2 }) }
    local bytes = clone.bytes(clone.encode(v, nil, 'process'))
    assert.is_string(bytes)
    local r = clone.decode(bytes)
    assert.are.same({ 1, 'two', { three = 3 } }, { r[1], r[2], r[3] })
    assert.are.same({ 1, 2 }, r.buf:toTable())
  end)

  it('names SharedArrayBuffers by descriptor: the bytes alone do not decode', function()
    local bytes = clone.bytes(clone.encode({ SharedArrayBuffer(4) }, nil, 'process'))
    assert.are.equal('DataCloneError', err_of(clone.decode, bytes).code)
  end)

  it('refuses transfers', function()
    local ab = ArrayBuffer(4)
    clone_error(nil, { ab }, 'process')
    assert.are.equal(4, ab.byteLength)
  end)

  it('rejects malformed bytes with DataCloneError', function()
    local good = clone.bytes(clone.encode({ a = { 1, 2, 'x' } }, nil, 'process'))
    for cut = 0, #good - 1 do
      local e = err_of(clone.decode, good:sub(1, cut))
      assert.are.equal('DataCloneError', e.code)
    end
    assert.are.equal('DataCloneError', err_of(clone.decode, good .. 'x').code)
    assert.are.equal('DataCloneError', err_of(clone.decode, 'L\1\14\0').code) -- a SAB by index
  end)
end)

-- The fast path (clone_fast.c, and the fast decoder) and the full one
-- (clone.c, clone_decode.c) must write the same bytes and build the same
-- values.  Generated values, from fixed seeds so that a failure repeats.
describe('the fast and the full serializer', function()
  local null = require('cjson').null
  local random = math.random

  local NUMBERS = { 0, -0.0, 1, -1, 0.5, -2.25, 0 / 0, math.huge, -math.huge, 2 ^ 53 - 1, -(2 ^ 53 - 1),
    2 ^ 53, 2 ^ 53 + 2, -(2 ^ 53), 2 ^ 63, -(2 ^ 63), 2 ^ 64, 1e300, -5e-324, 2 ^ 31, -(2 ^ 31), 127, 128,
    16383, 16384, 1e15 + 0.5 }

  local function gen_string()
    local n = ({ 0, 1, 3, 20, 127, 128, 300 })[random(7)]
    local b = {}
    for i = 1, n do b[i] = string.char(random(0, 255)) end
    return table.concat(b)
  end

  local function gen_scalar()
    local k = random(7)
    if k == 1 then return NUMBERS[random(#NUMBERS)]
    elseif k == 2 then return random(-100000, 100000)
    elseif k == 3 then return (random() - 0.5) * 10 ^ random(-300, 300)
    elseif k == 4 then return gen_string()
    elseif k == 5 then return random(2) == 1
    elseif k == 6 then return null
    else return ('k' .. random(20)) end
  end

  -- A table tree of at most `budget[1]` values; `pool` holds tables made
  -- so far, to be referenced again (shared references, and cycles when an
  -- ancestor is picked).
  local function gen_value(depth, pool, budget)
    budget[1] = budget[1] - 1
    if depth <= 0 or budget[1] <= 0 or random(3) == 1 then return gen_scalar() end
    if #pool > 0 and random(6) == 1 then return pool[random(#pool)] end
    local t = {}
    pool[#pool + 1] = t
    local narr = ({ 0, 1, 2, 5, 40 })[random(5)]
    for i = 1, narr do t[i] = gen_value(depth - 1, pool, budget) end
    if narr > 2 and random(4) == 1 then t[random(narr - 1)] = nil end -- a hole
    for _ = 1, ({ 0, 1, 3, 10, 300 })[random(5)] do
      local kind = random(4)
      local key = kind == 1 and gen_string() or kind == 2 and random(-50, 1000)
        or kind == 3 and (random() * 100) or (random(2) == 1)
      if key == key then t[key] = gen_value(depth - 1, pool, budget) end
    end
    return t
  end

  -- Same shape: equal scalars (NaN and -0 included), the same identity
  -- structure (`map` pairs the tables of a with those of b).
  local function same(a, b, map)
    if type(a) ~= type(b) then return false end
    if type(a) == 'number' then
      if a ~= a then return b ~= b end
      return a == b and (a ~= 0 or 1 / a == 1 / b)
    end
    if type(a) ~= 'table' then return rawequal(a, b) end
    if map[a] ~= nil then return map[a] == b end
    map[a] = b
    local n = 0
    for k, v in next, a do
      n = n + 1
      if type(k) == 'table' then return false end -- not generated
      if not same(v, rawget(b, k), map) then return false end
    end
    for _ in next, b do n = n - 1 end
    return n == 0
  end

  local function hex(s) return (s:gsub('.', function(c) return ('%02x'):format(c:byte()) end)) end

  it('write the same bytes for 1500 generated values, and decode them to the same values', function()
    local fast_taken = 0
    for seed = 1, 1500 do
      math.randomseed(seed)
      local v = gen_value(random(0, 6), {}, { random(1, 400) })
      local full = clone.encode_full(v)
      local fast = clone.encode_fast(v)
      assert.is_truthy(fast, 'the fast path gave up on a plain value (seed ' .. seed .. ')')
      local fb, bb = clone.bytes(fast), clone.bytes(full)
      if fb ~= bb then
        error(('seed %d: fast %s\nfull %s'):format(seed, hex(fb):sub(1, 200), hex(bb):sub(1, 200)))
      end
      -- the fast decoder leaves shared references to the full one
      local ok, by_fast = clone.decode_fast(full)
      local by_full = clone.decode_full(full)
      if ok then
        fast_taken = fast_taken + 1
        assert.is_true(same(by_fast, by_full, {}), 'decoders disagree (seed ' .. seed .. ')')
      end
      assert.is_true(same(v, by_full, {}), 'decoded value differs from the original (seed ' .. seed .. ')')
    end
    assert.is_true(fast_taken > 500, 'the fast decoder took only ' .. fast_taken)
  end)

  it('agree on the edge numbers one by one, -0 and NaN included', function()
    for _, n in ipairs(NUMBERS) do
      assert.are.equal(clone.bytes(clone.encode_full(n)), clone.bytes(clone.encode_fast(n)))
      assert.are.equal(clone.bytes(clone.encode_full({ n, x = n })), clone.bytes(clone.encode_fast({ n, x = n })))
    end
  end)

  it('agree on which numeric keys are the array part, wherever the table keeps them', function()
    local reversed = {}
    for i = 6, 1, -1 do reversed[i] = i * 10 end -- built from the top: in the hash part
    local cases = {
      { 1, 2, 3, [5] = 5, [2.5] = 'h', [2 ^ 53] = 'big', [-1] = 'neg', [0] = 'zero', [1e300] = 'huge' },
      reversed,
      { 1, nil, 3, [4.0] = 4, [-2 ^ 53] = 'low', [0 / 0 == 0 and 1 or 7] = 7 },
    }
    for i, v in ipairs(cases) do
      assert.are.equal(clone.bytes(clone.encode_full(v)), clone.bytes(clone.encode_fast(v)), 'case ' .. i)
      assert.is_true(same(v, clone.decode_full(clone.encode_fast(v)), {}), 'case ' .. i)
    end
  end)

  it('agree when the array part comes out of the table out of order, nested tables and shared ones included', function()
    -- the fast encoder walks a table once and has to start over the two-pass
    -- way when an index turns up late: what it wrote and numbered by then
    -- must not leak into the bytes
    local shared = { 'shared' }
    -- LuaJIT keeps these indexes in the hash part and yields 1 2 x 3: the
    -- tables at 1 and 2 (and `shared`) are numbered before 3 turns up
    local late = { x = shared, [2] = { 2, shared }, [1] = { 1, shared }, [3] = { 3, shared } }
    local holes = { 1, 2, 3, 4, 5, 6, 7, 8 }
    holes[2], holes[5], holes[8] = nil, nil, nil -- holes inside and at the end
    holes.k = { holes }
    local mixed = { 'a', 'b', { 'c' }, x = 1 }
    mixed[4] = 'd' -- grows the array past what the constructor sized
    local deep = { { { late } }, late }
    local looped = { x = 1, [2] = 'b', [1] = 'a', [3] = 'c' }
    looped.self = looped
    for i, v in ipairs({ late, holes, mixed, deep, { late, late }, looped }) do
      local fast = clone.encode_fast(v)
      assert.is_truthy(fast, 'case ' .. i)
      assert.are.equal(clone.bytes(clone.encode_full(v)), clone.bytes(fast), 'case ' .. i)
      local r = clone.decode(fast)
      assert.is_true(same(v, r, {}), 'case ' .. i)
    end
    local r = clone.decode(clone.encode_fast(late))
    assert.are.equal(r.x, r[1][2])
    assert.are.equal(r[1][2], r[3][2])
    assert.are.equal(3, r[3][1])
    r = clone.decode(clone.encode_fast(looped))
    assert.are.equal(r, r.self)
    assert.are.equal('c', r[3])
  end)

  it('keep identity the same way: shared tables and cycles', function()
    local shared = { 1 }
    local v = { shared, shared, { shared } }
    v.self = v
    v[3].up = v
    assert.are.equal(clone.bytes(clone.encode_full(v)), clone.bytes(clone.encode_fast(v)))
    local r = clone.decode_full(clone.encode_full(v))
    assert.are.equal(r[1], r[2])
    assert.are.equal(r, r.self)
    assert.are.equal(r, r[3].up)
  end)

  it('hand typed arrays, buffers and 64-bit integers to the full encoder, which keeps them', function()
    local sab = SharedArrayBuffer(16)
    local values = {
      { Int32Array(4) }, { Float64Array(2) }, { ArrayBuffer(3) }, { sab, Int32Array(sab) },
      { n = ffi.new('int64_t', -5) }, { ffi.new('uint64_t', 2 ^ 63) },
    }
    for i, v in ipairs(values) do
      assert.is_nil(clone.encode_fast(v), 'case ' .. i)
      local msg = clone.encode_full(v)
      assert.is_false((clone.decode_fast(msg)), 'case ' .. i)
      local r = clone.decode_full(msg)
      assert.are.equal(type(v[1] or v.n), type(r[1] or r.n), 'case ' .. i)
    end
    -- a view and its buffer keep their link through the full path
    local r = clone.decode(clone.encode({ sab, Int32Array(sab) }))
    r[2][0] = 7
    assert.are.equal(7, Int32Array(sab)[0])
  end)

  it('leave to the full encoder what only it can refuse, with its path', function()
    assert.is_nil(clone.encode_fast({ a = { print } }))
    local ok, e = pcall(clone.encode_full, { a = { print } })
    assert.is_false(ok)
    assert.are.equal('DataCloneError', e.code)
    assert.is_truthy(e.message:find('value.a[1]', 1, true))
  end)
end)

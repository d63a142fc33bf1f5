-- crypto: Node's API over OpenSSL (API.md "crypto").  Every digest, HMAC
-- and KDF output is compared with what Node computes for the same input,
-- and signatures cross between luster and Node in both directions.
local crypto = require('crypto')
local cjson = require('cjson')
local ffi = require('ffi')
local run = require('helpers.run')

local has_node = os.execute('command -v node >/dev/null 2>&1') == 0

-- Run a Node script (stdin-free), return its stdout decoded as JSON.
local function node_json(src)
  local path = os.tmpname() .. '.js'
  local f = assert(io.open(path, 'w'))
  f:write(src)
  f:close()
  local out, err, code = run.sh('node ' .. run.quote(path))
  os.remove(path)
  assert(code == 0, 'node failed: ' .. err)
  return cjson.decode(out)
end

local function raises(code, fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, 'expected ' .. code)
  assert.are.equal(code, type(e) == 'table' and e.code or e)
  return e
end

local binary = {}
for i = 0, 255 do binary[#binary + 1] = string.char(i) end
local INPUTS = { '', 'abc', table.concat(binary), ('luster '):rep(20000) }
local DIGESTS = { 'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha512-256',
                  'sha3-256', 'sha3-512', 'blake2b512', 'blake2s256', 'shake128', 'shake256',
                  'RSA-SHA256', 'SHA256' }
local ENCODINGS = { 'hex', 'base64', 'base64url' }

-- Inputs travel to Node as hex, so binary bytes arrive intact.
local function hex_list(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = crypto.encode(s, 'hex') end
  return cjson.encode(out)
end

ffi.cdef [[ unsigned long ERR_peek_error(void); ]]
local function openssl_queue_empty() return ffi.C.ERR_peek_error() == 0 end

describe('digests match Node for every algorithm and encoding', function()
  local expected
  setup(function()
    if not has_node then return end
    expected = node_json(([[
      const c = require('crypto');
      const inputs = %s.map(h => Buffer.from(h, 'hex'));
      const out = {};
      for (const alg of %s) for (const enc of %s) {
        out[alg + '/' + enc] = inputs.map(i => c.createHash(alg).update(i).digest(enc));
        out['hmac:' + alg + '/' + enc] = alg.startsWith('shake') ? [] :
          inputs.map(i => c.createHmac(alg, 'k\x00y').update(i).digest(enc));
      }
      console.log(JSON.stringify(out));
    ]]):format(hex_list(INPUTS), cjson.encode(DIGESTS), cjson.encode(ENCODINGS)))
  end)

  it('createHash and crypto.hash give Node\'s digests', function()
    if not has_node then pending('node is not installed') return end
    for _, alg in ipairs(DIGESTS) do
      for _, enc in ipairs(ENCODINGS) do
        for i, input in ipairs(INPUTS) do
          local want = expected[alg .. '/' .. enc][i]
          assert.are.equal(want, crypto.createHash(alg):update(input):digest(enc), alg .. ' ' .. enc)
          assert.are.equal(want, crypto.hash(alg, input, enc), alg .. ' ' .. enc)
        end
      end
    end
  end)

  it('createHmac gives Node\'s HMACs', function()
    if not has_node then pending('node is not installed') return end
    for _, alg in ipairs(DIGESTS) do
      if not alg:find('^shake') then
        for _, enc in ipairs(ENCODINGS) do
          for i, input in ipairs(INPUTS) do
            assert.are.equal(expected['hmac:' .. alg .. '/' .. enc][i],
              crypto.createHmac(alg, 'k\0y'):update(input):digest(enc), alg)
          end
        end
      end
    end
  end)

  it('updates in pieces, typed arrays and copies hash the same bytes', function()
    local whole = crypto.hash('sha256', 'hello world')
    local h = crypto.createHash('sha256'):update('hello'):update(' ')
    local copy = h:copy()
    assert.are.equal(whole, h:update('world'):digest('hex'))
    local u8 = Uint8Array(5)
    for i = 0, 4 do u8[i] = ('world'):byte(i + 1) end
    assert.are.equal(whole, copy:update(u8):digest('hex'))
    assert.are.equal(whole, crypto.createHash('sha256'):update('68656c6c6f20776f726c64', 'hex'):digest('hex'))
    assert.are.equal(32, #crypto.createHash('sha256'):update('x'):digest())
  end)
end)

describe('key derivation matches Node', function()
  local expected
  setup(function()
    if not has_node then return end
    expected = node_json([[
      const c = require('crypto');
      console.log(JSON.stringify({
        pbkdf2: ['sha1', 'sha256', 'sha512'].map(d => c.pbkdf2Sync('pass\0word', 'NaCl', 1000, 40, d).toString('hex')),
        scrypt: [c.scryptSync('password', 'salt', 64).toString('hex'),
                 c.scryptSync('pw', 'NaCl', 32, { N: 1024, r: 8, p: 16 }).toString('hex'),
                 c.scryptSync('', '', 16, { cost: 16, blockSize: 1, parallelization: 1 }).toString('hex')],
        hkdf: ['sha256', 'sha512'].map(d => Buffer.from(c.hkdfSync(d, 'ikm', 'salt', 'info', 42)).toString('hex')),
      }));
    ]])
  end)

  it('pbkdf2, scrypt and hkdf give Node\'s keys in sync, callback and promise forms', function()
    if not has_node then pending('node is not installed') return end
    for i, d in ipairs { 'sha1', 'sha256', 'sha512' } do
      assert.are.equal(expected.pbkdf2[i], crypto.encode(crypto.pbkdf2Sync('pass\0word', 'NaCl', 1000, 40, d), 'hex'))
      assert.are.equal(expected.pbkdf2[i], crypto.encode(await(crypto.promises.pbkdf2('pass\0word', 'NaCl', 1000, 40, d)), 'hex'))
    end
    assert.are.equal(expected.scrypt[1], crypto.encode(crypto.scryptSync('password', 'salt', 64), 'hex'))
    assert.are.equal(expected.scrypt[2], crypto.encode(await(crypto.promises.scrypt('pw', 'NaCl', 32, { N = 1024, r = 8, p = 16 })), 'hex'))
    assert.are.equal(expected.scrypt[3], crypto.encode(crypto.scryptSync('', '', 16, { cost = 16, blockSize = 1, parallelization = 1 }), 'hex'))
    for i, d in ipairs { 'sha256', 'sha512' } do
      assert.are.equal(expected.hkdf[i], crypto.encode(crypto.hkdfSync(d, 'ikm', 'salt', 'info', 42), 'hex'))
    end
    local got = await(Promise.new(function(resolve)
      crypto.scrypt('password', 'salt', 64, function(err, key) resolve({ err = err, key = key }) end)
    end))
    assert.is_nil(got.err)
    assert.are.equal(expected.scrypt[1], crypto.encode(got.key, 'hex'))
  end)

  it('keeps the loop running while the threadpool derives', function()
    local ticks = 0
    local iv = setInterval(function() ticks = ticks + 1 end, 5)
    local key = await(crypto.promises.pbkdf2('pw', 'salt', 300000, 32, 'sha512'))
    clearInterval(iv)
    assert.are.equal(crypto.pbkdf2Sync('pw', 'salt', 300000, 32, 'sha512'), key)
    assert.is_true(ticks >= 1, 'the loop was blocked')
  end)

  it('derives on the threadpool from several worker threads at once', function()
    local Worker = require('worker_threads').Worker
    local want = crypto.encode(crypto.pbkdf2Sync('pw', 'salt', 20000, 32, 'sha256'), 'hex')
    local results = {}
    local done = {}
    for w = 1, 3 do
      done[w] = Promise.new(function(resolve)
        local worker = Worker([[
          local crypto = require('crypto')
          local parentPort = require('worker_threads').parentPort
          local keys = {}
          for i = 1, 4 do keys[i] = crypto.promises.pbkdf2('pw', 'salt', 20000, 32, 'sha256') end
          for i = 1, 4 do keys[i] = crypto.encode(await(keys[i]), 'hex') end
          parentPort.postMessage(keys)
        ]], { eval = true })
        worker:on('message', function(keys) results[w] = keys end)
        worker:on('exit', resolve)
      end)
    end
    await(Promise.all(done))
    for w = 1, 3 do
      assert.are.equal(4, #results[w])
      for i = 1, 4 do assert.are.equal(want, results[w][i]) end
    end
  end)
end)

describe('signatures interoperate with Node', function()
  local node
  setup(function()
    if not has_node then return end
    node = node_json([[
      const c = require('crypto');
      const msg = 'signed by node';
      const rsa = c.generateKeyPairSync('rsa', { modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      const ec = c.generateKeyPairSync('ec', { namedCurve: 'P-256',
        publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      const ed = c.generateKeyPairSync('ed25519', {
        publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      console.log(JSON.stringify({
        rsa, ec, ed,
        rsa_sig: c.sign('sha256', Buffer.from(msg), rsa.privateKey).toString('hex'),
        pss_sig: c.sign('sha256', Buffer.from(msg), { key: rsa.privateKey, padding: c.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('hex'),
        ec_sig: c.sign('sha256', Buffer.from(msg), ec.privateKey).toString('hex'),
        ec_p1363: c.sign('sha256', Buffer.from(msg), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('hex'),
        ed_sig: c.sign(null, Buffer.from(msg), ed.privateKey).toString('hex'),
      }));
    ]])
  end)

  it('verifies what Node signed (RSA, RSA-PSS, ECDSA DER and P1363, Ed25519)', function()
    if not has_node then pending('node is not installed') return end
    local msg = 'signed by node'
    local function sig(h) return crypto.decode(h, 'hex') end
    assert.is_true(crypto.verify('sha256', msg, node.rsa.publicKey, sig(node.rsa_sig)))
    assert.is_true(crypto.verify('sha256', msg, { key = node.rsa.publicKey, padding = crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength = 32 }, sig(node.pss_sig)))
    assert.is_true(crypto.verify('sha256', msg, node.ec.publicKey, sig(node.ec_sig)))
    assert.is_true(crypto.verify('sha256', msg, { key = node.ec.publicKey, dsaEncoding = 'ieee-p1363' }, sig(node.ec_p1363)))
    assert.is_true(crypto.verify(nil, msg, node.ed.publicKey, sig(node.ed_sig)))
    assert.is_false(crypto.verify('sha256', msg .. '!', node.rsa.publicKey, sig(node.rsa_sig)))
    assert.is_false(crypto.verify(nil, msg .. '!', node.ed.publicKey, sig(node.ed_sig)))
    assert.is_true(openssl_queue_empty())
  end)

  it('makes keys and signatures Node verifies', function()
    if not has_node then pending('node is not installed') return end
    local rsa = crypto.generateKeyPairSync('rsa', { modulusLength = 2048 })
    local ec = await(crypto.promises.generateKeyPair('ec', { namedCurve = 'P-384' }))
    local ed = await(Promise.new(function(resolve, reject)
      crypto.generateKeyPair('ed25519', {}, function(err, pub, priv)
        if err then reject(err) else resolve({ publicKey = pub, privateKey = priv }) end
      end)
    end))
    local msg = 'signed by luster'
    local cases = {
      { 'sha256', rsa.publicKey, crypto.sign('sha256', msg, rsa.privateKey), 'null' },
      { 'sha384', ec.publicKey, crypto.sign('sha384', msg, { key = ec.privateKey, dsaEncoding = 'ieee-p1363' }), '"ieee-p1363"' },
      { 'sha384', ec.publicKey, crypto.sign('sha384', msg, ec.privateKey), 'null' },
      { nil, ed.publicKey, crypto.sign(nil, msg, ed.privateKey), 'null' },
    }
    local js = { "const c = require('crypto'); const r = [];" }
    for _, case in ipairs(cases) do
      js[#js + 1] = ("r.push(c.verify(%s, Buffer.from(%q), { key: %s, dsaEncoding: %s || undefined }, Buffer.from(%q, 'hex')));")
        :format(case[1] and ('%q'):format(case[1]) or 'null', msg, cjson.encode(case[2]), case[4], crypto.encode(case[3], 'hex'))
    end
    js[#js + 1] = 'console.log(JSON.stringify(r));'
    local verdicts = node_json(table.concat(js, '\n'))
    for i = 1, #cases do assert.is_true(verdicts[i], 'case ' .. i) end
    assert.are.equal('rsa', crypto.keyType(rsa.privateKey))
    assert.are.equal('ec', crypto.keyType(ec.publicKey))
    assert.are.equal('ed25519', crypto.keyType(ed.publicKey))
  end)
end)

describe('random values', function()
  it('gives random bytes, UUIDs and integers of the right shape', function()
    assert.are.equal(32, #crypto.randomBytes(32))
    assert.are_not.equal(crypto.randomBytes(16), crypto.randomBytes(16))
    local seen = {}
    for _ = 1, 500 do
      local u = crypto.randomUUID()
      assert.truthy(u:match('^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$'), u)
      assert.is_nil(seen[u])
      seen[u] = true
    end
    local hits = {}
    for _ = 1, 2000 do
      local v = crypto.randomInt(3, 7)
      assert.is_true(v >= 3 and v < 7 and v == math.floor(v))
      hits[v] = true
    end
    for v = 3, 6 do assert.is_true(hits[v], 'never drew ' .. v) end
    local a = crypto.getRandomValues(Uint32Array(8))
    local any = 0
    for i = 0, 7 do any = any + a[i] end
    assert.is_true(any > 0)
    raises('QuotaExceededError', crypto.getRandomValues, Uint8Array(65537))
    local got = await(Promise.new(function(resolve) crypto.randomBytes(8, function(err, b) resolve(#b) end) end))
    assert.are.equal(8, got)
  end)

  it('compares in constant time, refusing different lengths', function()
    assert.is_true(crypto.timingSafeEqual('abc', 'abc'))
    assert.is_false(crypto.timingSafeEqual('abc', 'abd'))
    raises('ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH', crypto.timingSafeEqual, 'abc', 'ab')
  end)
end)

describe('errors', function()
  it('raises Node\'s codes and leaves no error on OpenSSL\'s queue', function()
    raises('ERR_CRYPTO_INVALID_DIGEST', crypto.createHash, 'nope')
    raises('ERR_CRYPTO_INVALID_DIGEST', crypto.createHmac, 'nope', 'k')
    raises('ERR_CRYPTO_INVALID_DIGEST', crypto.pbkdf2Sync, 'p', 's', 1, 8, 'nope')
    raises('ERR_OUT_OF_RANGE', crypto.pbkdf2Sync, 'p', 's', 0, 8, 'sha256')
    raises('ERR_INVALID_ARG_TYPE', crypto.pbkdf2Sync, 'p', 's', 1, 8)
    raises('ERR_CRYPTO_INVALID_SCRYPT_PARAMS', crypto.scryptSync, 'p', 's', 8, { N = 3 })
    raises('ERR_CRYPTO_INVALID_SCRYPT_PARAMS', crypto.scryptSync, 'p', 's', 8, { N = 2 ^ 20, maxmem = 1024 })
    local h = crypto.createHash('sha256')
    h:digest()
    raises('ERR_CRYPTO_HASH_FINALIZED', h.digest, h)
    raises('ERR_CRYPTO_HASH_FINALIZED', h.update, h, 'x')
    local ok, e = pcall(crypto.sign, 'sha256', 'x', 'not a key')
    assert.is_false(ok)
    assert.truthy(tostring(e.code):match('^ERR_'))
    assert.is_true(openssl_queue_empty())
    local bad = await(Promise.new(function(resolve)
      crypto.pbkdf2('p', 's', 1, 8, 'sha256', function(err, key) resolve(key) end)
    end))
    assert.are.equal(8, #bad)
    raises('ERR_INVALID_ARG_VALUE', crypto.generateKeyPairSync, 'dsa-ish', {})
    assert.is_true(openssl_queue_empty())
  end)
end)

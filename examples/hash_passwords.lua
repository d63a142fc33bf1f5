-- The seeds' "hash passwords without blocking incoming requests", for real:
-- /register scrypt-hashes on libuv's threadpool (crypto.promises.scrypt)
-- while /health keeps answering at once; /login verifies in constant time.
--   luster examples/hash_passwords.lua        (PORT=0 picks a free port)
--   curl -s -XPOST localhost:3000/register -H 'Content-Type: application/json' -d '{"user":"ada","password":"s3cret"}'
--   curl -s -XPOST localhost:3000/login    -H 'Content-Type: application/json' -d '{"user":"ada","password":"s3cret"}'
--   curl -s localhost:3000/health
local crypto = require('crypto')
local app = require('router')()

local users = {}   -- name -> {salt=, hash=}
local SCRYPT = { N = 16384, r = 8, p = 1 }

local function derive(password, salt)
  return await(crypto.promises.scrypt(password, salt, 64, SCRYPT))
end

app:use(require('router').json())

app:post('/register', function(req, res)
  local b = req.body or {}
  if type(b.user) ~= 'string' or type(b.password) ~= 'string' or #b.password < 4 then
    return res:status(400):json({ error = 'user and password (4+ characters) required' })
  end
  if users[b.user] then return res:status(409):json({ error = 'user exists' }) end
  local salt = crypto.randomBytes(16)
  users[b.user] = { salt = salt, hash = derive(b.password, salt) }
  res:status(201):json({ user = b.user, hash = crypto.encode(users[b.user].hash, 'base64'):sub(1, 16) .. '...' })
end)

app:post('/login', function(req, res)
  local b = req.body or {}
  local u = users[b.user or '']
  local ok = false
  if u and type(b.password) == 'string' then ok = crypto.timingSafeEqual(derive(b.password, u.salt), u.hash) end
  res:status(ok and 200 or 401):json({ ok = ok })
end)

app:get('/health', function(req, res) res:json({ ok = true, users = (function()
  local n = 0
  for _ in pairs(users) do n = n + 1 end
  return n
end)() }) end)

app:listen(tonumber(process.env.PORT) or 3000, '127.0.0.1', function()
  console.log(('password service listening on port %d'):format(app.server:address().port))
end)

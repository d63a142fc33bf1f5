-- A small JSON API with the router: an in-memory list of todos.
--   luster examples/json_api.lua          (PORT=0 picks a free port)
--   curl -s localhost:3000/todos
--   curl -s -XPOST localhost:3000/todos -H 'Content-Type: application/json' -d '{"title":"milk"}'
--   curl -s -XPATCH localhost:3000/todos/1 -H 'Content-Type: application/json' -d '{"done":true}'
--   curl -s -XDELETE localhost:3000/todos/1
local json = require('json')
local app = require('router')()

-- json.array: an empty list must still be written as [] (a Lua table alone
-- does not say whether it is a list or a record)
local todos, next_id = json.array(), 1

local function find(id)
  for i, t in ipairs(todos) do
    if t.id == tonumber(id) then return t, i end
  end
end

-- every response says how long it took
app:use(function(req, res, nxt)
  local t0 = process.hrtime()
  res:on('finish', function()
    local d = process.hrtime(t0)
    if process.env.LOG_REQUESTS then
      console.log(('%s %s %d %.2fms'):format(req.method, req.url, res.statusCode, d[1] * 1e3 + d[2] / 1e6))
    end
  end)
  nxt()
end)

app:get('/todos', function(req, res)
  local list = todos
  if req.query.done then
    list = json.array()
    for _, t in ipairs(todos) do
      if tostring(t.done) == req.query.done then list[#list + 1] = t end
    end
  end
  res:json({ count = #list, todos = list })
end)

app:get('/todos/:id', function(req, res)
  local t = find(req.params.id)
  if not t then return res:status(404):json({ error = 'no todo ' .. req.params.id }) end
  res:json(t)
end)

app:post('/todos', function(req, res)
  local body = req.body
  if type(body) ~= 'table' or type(body.title) ~= 'string' or body.title == '' then
    return res:status(422):json({ error = 'title (a non-empty string) is required' })
  end
  local t = { id = next_id, title = body.title, done = body.done == true }
  next_id = next_id + 1
  todos[#todos + 1] = t
  res:status(201):json(t)
end)

app:patch('/todos/:id', function(req, res)
  local t = find(req.params.id)
  if not t then return res:status(404):json({ error = 'no todo ' .. req.params.id }) end
  -- req.body is the parsed JSON; without a JSON body it is left unset
  -- (req.body is then IncomingMessage's body() method)
  local body = type(req.body) == 'table' and req.body or {}
  if body.title ~= nil then t.title = tostring(body.title) end
  if body.done ~= nil then t.done = body.done == true end
  res:json(t)
end)

app:delete('/todos/:id', function(req, res)
  local t, i = find(req.params.id)
  if not t then return res:status(404):json({ error = 'no todo ' .. req.params.id }) end
  table.remove(todos, i)
  res:status(204):finish()
end)

-- a slow endpoint: handlers may await without holding up the others
app:get('/slow', function(req, res)
  await(Promise.new(function(resolve) setTimeout(resolve, tonumber(req.query.ms) or 100) end))
  res:json({ slept = tonumber(req.query.ms) or 100 })
end)

local server = app:listen(tonumber(process.env.PORT) or 3000, '127.0.0.1', function()
  console.log(('JSON API listening on port %d'):format(app.server:address().port))
end)
return server

-- The worker-thread and shared-memory examples of the seeds
-- (examples/*.lua) run as written and print what the seeds say.
local run = require('spec.helpers.run')
local function absolute(p) return p:sub(1, 1) == '/' and p or process.cwd() .. '/' .. p end
local root = absolute(os.getenv('LUSTER_SOURCE_DIR') or '.')
local bin = absolute(run.bin)

-- Run an example from another directory, as a user would.
local function example(name)
  return run.sh(('cd /tmp && %s %s'):format(run.quote(bin), run.quote(root .. '/examples/' .. name)))
end

describe('the worker-thread examples', function()
  it('worker_heavy.lua computes in a worker and reports result and exit code', function()
    local out, err, code = example('worker_heavy.lua')
    assert.are.equal('', err)
    assert.are.equal(0, code)
    assert.are.equal('Result: 881999979000000\nWorker exited with code 0\n', out)
  end)

  it('worker_main.lua gets the sum from worker_sum.lua through runWorker()', function()
    local out, err, code = example('worker_main.lua')
    assert.are.equal('', err)
    assert.are.equal(0, code)
    -- the same double-precision sum Node computes (0 + 1 + ... + 1e9-1)
    assert.are.equal('Worker result: 499999999067108992\n', out)
  end)

  it('shared_memory.lua shares one Int32Array with its worker', function()
    local out, err, code = example('shared_memory.lua')
    assert.are.equal('', err)
    assert.are.equal(0, code)
    assert.are.equal('100\nmain sees 101\n', out)
  end)

  it('worker_pool.lua hashes on a pool of threads', function()
    local out, err, code = example('worker_pool.lua')
    assert.are.equal('', err)
    assert.are.equal(0, code)
    local n = 0
    for word, h in out:gmatch('(password%-%d+) (%x+)\n') do
      n = n + 1
      assert.are.equal(8, #h)
    end
    assert.are.equal(16, n)
    assert.is_truthy(out:find('hashed 16 passwords on 4 threads in %d+ ms\n$'))
    assert.is_truthy(out:find('password-1 6ad3a34d\n', 1, true))
  end)
end)

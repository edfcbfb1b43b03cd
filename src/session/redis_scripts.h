// The Lua scripts of the Redis store (docs/redis.md states their contract). Each touches only
// keys of one session (one hash tag, so one Cluster slot) and checks everything it can before
// its first write, so an error never leaves a request half-done.
#pragma once

namespace strata::session::redis::scripts {

// Shared by the scripts: decimal-string arithmetic for producer epochs and sequences (64-bit
// values that Lua's doubles cannot hold exactly) and the size of an event as Event::byte_size
// counts it.
#define STRATA_REDIS_LUA_COMMON                                                      \
  "local function dlt(a, b)\n"                                                       \
  "  if #a ~= #b then return #a < #b end\n"                                          \
  "  return a < b\n"                                                                 \
  "end\n"                                                                            \
  "local function dinc(a)\n"                                                         \
  "  local out, carry = {}, 1\n"                                                     \
  "  for i = #a, 1, -1 do\n"                                                         \
  "    local d = string.byte(a, i) - 48 + carry\n"                                   \
  "    if d == 10 then d = 0; carry = 1 else carry = 0 end\n"                        \
  "    out[i] = string.char(48 + d)\n"                                               \
  "  end\n"                                                                          \
  "  local s = table.concat(out)\n"                                                  \
  "  if carry == 1 then s = '1' .. s end\n"                                          \
  "  return s\n"                                                                     \
  "end\n"                                                                            \
  "local function fmt(n) return string.format('%d', n) end\n"                        \
  "local function entry_size(fields)\n"                                              \
  "  local n = 48\n"                                                                 \
  "  for j = 1, #fields, 2 do\n"                                                     \
  "    local f = fields[j]\n"                                                        \
  "    if f == 't' or f == 'p' or f == 'd' or f == 'r' or f == 'pr' or f == 'm' then\n" \
  "      n = n + #fields[j + 1]\n"                                                   \
  "    end\n"                                                                        \
  "  end\n"                                                                          \
  "  return n\n"                                                                     \
  "end\n"                                                                            \
  "local function field(fields, name)\n"                                             \
  "  for j = 1, #fields, 2 do if fields[j] == name then return fields[j + 1] end end\n" \
  "  return nil\n"                                                                   \
  "end\n"                                                                            \
  "local function offset_of(id) return tonumber(string.match(id, '^(%d+)%-0$')) end\n" \
  "local function dataloss(what) error({err = 'STRATA_DATALOSS ' .. what}) end\n"   \
  "local function check_meta(meta)\n"                                                \
  "  local m = redis.call('HMGET', meta, 'format', 'head', 'trimmed')\n"             \
  "  if not m[1] then return nil end\n"                                              \
  "  local head, trimmed = tonumber(m[2]), tonumber(m[3])\n"                         \
  "  if m[1] ~= '1' or not head or not trimmed then dataloss('foreign session metadata') end\n" \
  "  return head, trimmed\n"                                                         \
  "end\n"

// KEYS: meta, log, producers of each session in the call. ARGV: the number of sessions,
// then per session: epoch for a new session, created_ms, retention for a new session, number
// of requests, and per request: producer, producer epoch, sequence ('' for none), event
// count, and per event: type, run id, parent run id, message id, payload, timestamp.
// Creates each session if needed (zero requests: create only).
// Returns per session {epoch, created, damage} (damage '' unless the session's keys hold
// foreign data; then nothing of it is touched and its requests get code 5), then per request
// {code, a, b}: code 0 written (a..b offsets), 1 duplicate (a..b its offsets), 2 rejected
// (a: the producer state for the message), 3 duplicate whose events retention removed,
// 4 damaged producer state, 5 damaged session, 6 an event of a run that has ended (a: the
// run id, b: its terminal event type).
// Reads that could fail on foreign data run with pcall before a session's first write, and
// nothing after a write can fail, so no error ever leaves a request half-written.
inline constexpr const char* kAppend = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
local out = {}
local a = 2
for s = 1, tonumber(ARGV[1]) do
  local meta, log, producers = KEYS[3 * s - 2], KEYS[3 * s - 1], KEYS[3 * s]
  local new_epoch, created_ms, retention, nreq = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  a = a + 4
  local damage
  local epoch, head, count, bytes, created = '', 0, 0, 0, 0
  local m = redis.pcall('HMGET', meta, 'format', 'epoch', 'head', 'count', 'bytes')
  if m.err then
    damage = m.err
  elseif not m[1] then
    if redis.call('EXISTS', meta, log, producers) ~= 0 then
      damage = 'session keys exist without strata metadata'
    else
      epoch, created = new_epoch, 1
      redis.call('HSET', meta, 'format', '1', 'epoch', epoch, 'head', '0', 'trimmed', '0',
                 'count', '0', 'bytes', '0', 'created', created_ms, 'retention', retention)
    end
  else
    epoch, head, count, bytes = m[2], tonumber(m[3]), tonumber(m[4]), tonumber(m[5])
    if m[1] ~= '1' or not epoch or not head or not count or not bytes then
      damage = 'foreign session metadata'
    end
  end
  if damage then epoch = '' end
  local header = #out + 1
  out[#out + 1] = epoch; out[#out + 1] = created; out[#out + 1] = damage or ''
  local wrote = false

  local states = {}  -- producer -> its state, read once and written back once per call
  -- A wrong type at the producers key fails the session's first HGET, before any write.
  local function state_of(producer)
    local st = states[producer]
    if st == nil then
      local raw = redis.pcall('HGET', producers, producer)
      if type(raw) == 'table' and raw.err then return nil, raw.err end
      if not raw then
        st = {raw = ''}
      else
        local se, sseq, sfirst, slast = string.match(raw, '^(%d+),(%d*),(%d+),(%d+)$')
        if se then
          st = {raw = raw, e = se, q = sseq, f = sfirst, l = slast}
        else
          st = {raw = raw, bad = true}
        end
      end
      states[producer] = st
    end
    return st
  end
  -- Marks the session damaged: its requests so far (none of which wrote) and the rest get
  -- code 5.
  local function mark_damaged(why)
    damage = why
    out[header] = ''
    out[header + 2] = why
    for j = header + 3, #out, 3 do
      out[j] = 5; out[j + 1] = 0; out[j + 2] = 0
    end
  end

  local added, added_bytes = 0, 0
  for r = 1, nreq do
    local producer, pepoch, seq, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
    local verdict = 'write'
    local st
    local base = a + 4
    a = a + 4 + 6 * n
    if not damage then
      local why
      st, why = state_of(producer)
      if not st then mark_damaged(why) end
    end
    if damage then
      verdict = 'damaged_session'
    else
      if st.bad then verdict = 'damaged'
      elseif st.e and dlt(pepoch, st.e) then verdict = 'reject'
      elseif seq ~= '' then
        if (not st.e) or dlt(st.e, pepoch) or st.q == '' then
          if seq ~= '0' then verdict = 'reject' end
        elseif seq == dinc(st.q) then verdict = 'write'
        elseif seq == st.q then verdict = 'last'
        elseif dlt(seq, st.q) then verdict = 'older'
        else verdict = 'reject' end
      end
    end
    -- Run fencing: what a run writes (run.*, message.*) is refused once the run has ended,
    -- so a delta racing a Stop from another node never lands after run.cancelled. Ended runs
    -- are kept in the producers hash under '!run:<id>' ('!' starts no producer name).
    local ended_run, ended_how
    if verdict == 'write' and not damage then
      for k = 0, n - 1 do
        local i = base + 6 * k
        local t, rid = ARGV[i], ARGV[i + 1]
        if rid ~= '' and (string.sub(t, 1, 4) == 'run.' or string.sub(t, 1, 8) == 'message.') then
          local how = redis.call('HGET', producers, '!run:' .. rid)
          if how then
            verdict, ended_run, ended_how = 'run_ended', rid, how
            break
          end
        end
      end
    end
    local first = head + 1
    if verdict == 'write' then
      for k = 0, n - 1 do
        local i = base + 6 * k
        local t, rid, prid, mid, d, ts = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
        local id
        if head < 99999999999999 then id = tostring(head + 1) .. '-0' else id = fmt(head + 1) .. '-0' end
        -- Every entry has the same fields in the same order (empty when unset): Redis then
        -- stores the field names once per stream node, not per entry.
        if wrote then
          redis.call('XADD', log, id, 't', t, 'p', producer, 'd', d, 'ts', ts, 'e', pepoch,
                     'q', seq, 'r', rid, 'pr', prid, 'm', mid)
        else
          -- The session's first write: a log key of another type, or one that already runs
          -- past the head (foreign data), fails here, before anything was written.
          local res = redis.pcall('XADD', log, id, 't', t, 'p', producer, 'd', d, 'ts', ts,
                                  'e', pepoch, 'q', seq, 'r', rid, 'pr', prid, 'm', mid)
          if type(res) == 'table' and res.err then
            mark_damaged(res.err)
            break
          end
          wrote = true
        end
        head = head + 1
        if rid ~= '' and (t == 'run.completed' or t == 'run.failed' or t == 'run.cancelled' or
                          t == 'run.agent_lost') then
          redis.call('HSET', producers, '!run:' .. rid, t)
        end
        added = added + 1
        added_bytes = added_bytes + 48 + #t + #producer + #rid + #prid + #mid + #d
      end
    end
    if verdict == 'write' and damage then
      out[#out + 1] = 5; out[#out + 1] = 0; out[#out + 1] = 0
    elseif verdict == 'write' and seq == '' and st.e == pepoch then
      -- record() changes nothing for an unsequenced append in the producer's epoch.
      out[#out + 1] = 0; out[#out + 1] = first; out[#out + 1] = head
    elseif verdict == 'write' then
      -- The producer rules' record(): a higher epoch resets the sequence; a sequence is
      -- remembered with the offsets of its append.
      if (not st.e) or dlt(st.e, pepoch) then st.q = '' end
      st.e = pepoch
      st.q = st.q or ''
      st.f = st.f or '0'
      st.l = st.l or '0'
      if seq ~= '' then st.q, st.f, st.l = seq, fmt(first), fmt(head) end
      local raw = st.e .. ',' .. st.q .. ',' .. st.f .. ',' .. st.l
      if raw ~= st.raw then
        st.raw = raw
        st.dirty = true  -- unchanged (an unsequenced append in the same epoch): no write
      end
      out[#out + 1] = 0; out[#out + 1] = first; out[#out + 1] = head
    else
      if verdict == 'reject' then
        out[#out + 1] = 2; out[#out + 1] = st.raw; out[#out + 1] = 0
      elseif verdict == 'damaged' then
        out[#out + 1] = 4; out[#out + 1] = 0; out[#out + 1] = 0
      elseif verdict == 'damaged_session' then
        out[#out + 1] = 5; out[#out + 1] = 0; out[#out + 1] = 0
      elseif verdict == 'run_ended' then
        out[#out + 1] = 6; out[#out + 1] = ended_run; out[#out + 1] = ended_how
      elseif verdict == 'last' then
        out[#out + 1] = 1; out[#out + 1] = tonumber(st.f); out[#out + 1] = tonumber(st.l)
      else
        -- An older sequence: its events lie before the last append's; walk back to them.
        local f, l
        local cursor = '(' .. st.f .. '-0'
        while true do
          local page = redis.call('XREVRANGE', log, cursor, '-', 'COUNT', 256)
          local stop = false
          for _, entry in ipairs(page) do
            local fields = entry[2]
            local ep, eq = field(fields, 'e'), field(fields, 'q')
            if field(fields, 'p') == producer and ep and eq and eq ~= '' then
              if ep == pepoch and eq == seq then
                local off = offset_of(entry[1])
                if off then
                  l = l or off
                  f = off
                end
              elseif dlt(ep, pepoch) or (ep == pepoch and dlt(eq, seq)) then
                stop = true
                break
              end
            end
          end
          if stop or #page < 256 then break end
          cursor = '(' .. page[#page][1]
        end
        if f then
          out[#out + 1] = 1; out[#out + 1] = f; out[#out + 1] = l
        else
          out[#out + 1] = 3; out[#out + 1] = 0; out[#out + 1] = 0
        end
      end
    end
  end
  local updates = {}
  for producer, st in pairs(states) do
    if st.dirty then
      updates[#updates + 1] = producer
      updates[#updates + 1] = st.raw
      if #updates >= 200 then
        redis.call('HSET', producers, unpack(updates))
        updates = {}
      end
    end
  end
  if #updates > 0 then redis.call('HSET', producers, unpack(updates)) end
  if added > 0 then
    redis.call('HSET', meta, 'head', fmt(head), 'count', fmt(count + added),
               'bytes', fmt(bytes + added_bytes))
  end
end
return out
)lua";

// KEYS: meta, log. ARGV: after, max events. Returns -1 if the session does not exist, else
// {head, trimmed_through, entries (XRANGE)}.
inline constexpr const char* kRead = "#!lua flags=no-writes\n" STRATA_REDIS_LUA_COMMON R"lua(
local head, trimmed = check_meta(KEYS[1])
if not head then return -1 end
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1] .. '-0', '+', 'COUNT', tonumber(ARGV[2]))
return {head, trimmed, entries}
)lua";

// KEYS: meta, log. ARGV: through, at most this many events per call. Removes the oldest
// events up to offset `through` (clamped to the head). Returns -1 if the session does not
// exist, else {removed, done}; when not done, call again.
inline constexpr const char* kTrim = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
local meta, log = KEYS[1], KEYS[2]
local head, trimmed = check_meta(meta)
if not head then return -1 end
local through = tonumber(ARGV[1])
if through > head then through = head end
local limit = tonumber(ARGV[2])
local page = redis.call('XRANGE', log, '-', fmt(through) .. '-0', 'COUNT', limit)
local bytes, last = 0, 0
for _, entry in ipairs(page) do
  bytes = bytes + entry_size(entry[2])
  local off = offset_of(entry[1])
  if not off then dataloss('stream entry id ' .. entry[1]) end
  last = off
end
if #page > 0 then
  redis.call('XTRIM', log, 'MINID', fmt(last + 1) .. '-0')
  redis.call('HINCRBY', meta, 'count', -#page)
  redis.call('HINCRBY', meta, 'bytes', -bytes)
end
local done = #page < limit
local reached = through
if not done then reached = last end
if reached > trimmed then redis.call('HSET', meta, 'trimmed', fmt(reached)) end
if done then return {#page, 1} end
return {#page, 0}
)lua";

// KEYS: meta, log. ARGV: span count, then per span: message id, first, last. Removes the
// message.delta events of each message within its span. Returns -1 if the session does not
// exist, else how many events were removed.
inline constexpr const char* kCompact = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
local meta, log = KEYS[1], KEYS[2]
if not check_meta(meta) then return -1 end
local removed, bytes = 0, 0
local i = 2
for s = 1, tonumber(ARGV[1]) do
  local mid, first, last = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local cursor = first .. '-0'
  while true do
    local page = redis.call('XRANGE', log, cursor, last .. '-0', 'COUNT', 512)
    local doomed = {}
    for _, entry in ipairs(page) do
      local fields = entry[2]
      if field(fields, 't') == 'message.delta' and field(fields, 'm') == mid then
        doomed[#doomed + 1] = entry[1]
        bytes = bytes + entry_size(fields)
      end
    end
    if #doomed > 0 then
      removed = removed + redis.call('XDEL', log, unpack(doomed))
    end
    if #page < 512 then break end
    cursor = '(' .. page[#page][1]
  end
end
if removed > 0 then
  redis.call('HINCRBY', meta, 'count', -removed)
  redis.call('HINCRBY', meta, 'bytes', -bytes)
end
return removed
)lua";

// KEYS: meta, log, producers, kinds. ARGV: the prefix of the leased keys (same hash tag).
// Deletes the session. Returns 1 if it existed, else 0.
inline constexpr const char* kRemove = "#!lua\n" R"lua(
local existed = redis.call('EXISTS', KEYS[1])
for _, kind in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('DEL', ARGV[1] .. kind)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return existed
)lua";

// KEYS: meta. ARGV: the encoded retention. Returns 0 if the session does not exist, else 1.
inline constexpr const char* kSetRetention = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
if not check_meta(KEYS[1]) then return 0 end
redis.call('HSET', KEYS[1], 'retention', ARGV[1])
return 1
)lua";

// KEYS: meta, leased (of the kind), kinds. ARGV: operation ('put', 'remove', 'list'), kind,
// key, value. Returns -1 if the session does not exist; put: 1; remove: 1 if it was there,
// else 0; list: the HGETALL of the kind.
inline constexpr const char* kLeased = "#!lua\n" STRATA_REDIS_LUA_COMMON R"lua(
if not check_meta(KEYS[1]) then return -1 end
local op = ARGV[1]
if op == 'put' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  redis.call('SADD', KEYS[3], ARGV[2])
  return 1
elseif op == 'remove' then
  return redis.call('HDEL', KEYS[2], ARGV[3])
end
return redis.call('HGETALL', KEYS[2])
)lua";

#undef STRATA_REDIS_LUA_COMMON

}  // namespace strata::session::redis::scripts

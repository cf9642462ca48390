-- Argo CD resource health check for routeshift.dev/Canary (resource.customizations.health.routeshift.dev_Canary).
-- Argo CD runs it with the live object as `obj` and reads `hs.status` / `hs.message`.
-- Healthy: nothing to roll out (Initialized) or the release was promoted (Succeeded).
-- Progressing: the controller has not seen the latest spec yet, or a rollout is running.
-- Suspended: a person or a confirm-promotion webhook must act (Paused, WaitingPromotion).
-- Degraded: the spec or its objects cannot be acted on (Ready=False), or the release was rolled back.
hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function failed_reason(status)
  -- Workload form: why the revision was rolled back (failed analysis, CrashLoopBackOff, ...).
  local workload = status.workload
  if workload ~= nil and workload.failed ~= nil and workload.failed.revision == status.release
      and workload.failed.reason ~= nil and workload.failed.reason ~= "" then
    return workload.failed.reason
  end
  return nil
end

local status = obj.status
local generation = obj.metadata.generation
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Routeshift controller"
  return hs
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. generation
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
  return hs
end

local phase = status.phase
local message = status.message or ""
if phase == "Initialized" or phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "Failed" then
  hs.status = "Degraded"
  local reason = failed_reason(status)
  if reason ~= nil then
    message = message .. ": " .. reason
  end
elseif phase == "Paused" or phase == "WaitingPromotion" then
  hs.status = "Suspended"
else
  -- Initializing, Progressing, Promoting, Finalising, RollingBack, Terminating, Terminated
  hs.status = "Progressing"
end
hs.message = phase .. ": " .. message
return hs

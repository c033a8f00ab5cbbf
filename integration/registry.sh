# Sourced by podman.sh, containerd.sh and docker.sh (after lib.sh): the image swarm.sh builds in
# its step 1 (a Dockerfile with RUN, COPY, ENV and CMD; its RUN steps ran on the runtime under
# test), pulled from a private registry. integration/run runs swarm.sh first with REGISTRY_STORE
# set, and swarm.sh leaves its registry's storage there. A story serves that storage read-only
# with a docker-registry of its own on 127.0.0.1:5000 inside a network namespace of the test's
# (never an address outside them), pulls over plain HTTP, then stops the registry.
REG=127.0.0.1:5000
REG_IMAGE=$REG/web:1
# What the image holds (swarm.sh's Dockerfile, VERSION=1): ENV values, then the files its RUN
# and COPY steps made.
REG_SCRIPT='echo $GREETING $VERSION; cat /www/index.html /www/page.txt /www/built'
REG_WANT="hello-from-swarm 1 hello-from-swarm v1 copied built"
reg_pid=
reg_ns=

# registry_have_image: 0 when swarm.sh left the image; else a skip (a story run by hand, not
# through integration/run) or a failure (swarm.sh did not get as far as its push).
registry_have_image() {
  if [ -z "${REGISTRY_STORE:-}" ]; then
    skip no-swarm-image "registry image" "REGISTRY_STORE is unset: integration/run sets it and runs swarm.sh, which builds the image, first"
    return 1
  fi
  [ -d "$REGISTRY_STORE/docker/registry/v2/repositories/web/_manifests/tags/1" ] && return 0
  fail "registry image" "swarm.sh left no web:1 in $REGISTRY_STORE"
  return 1
}

# registry_up DIR [NETNS]: serve REGISTRY_STORE on $REG inside NETNS (a path: the engine's
# namespace), or inside a network namespace made here; DIR takes its config and log. Sets
# reg_net (the namespace's path, for `nsenter --net`). Waits at most 30 s for it to answer.
registry_up() {
  local dir=$1 end
  if [ -n "${2:-}" ]; then
    reg_net=$2
  else
    reg_ns=carrack-test-reg-$ENGINE-$$
    ip netns add "$reg_ns" && ip -n "$reg_ns" link set lo up \
      || { fail "registry up" "could not make the network namespace $reg_ns"; return 1; }
    reg_net=/run/netns/$reg_ns
  fi
  cat > "$dir/registry.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $REGISTRY_STORE}
  maintenance: {readonly: {enabled: true}, uploadpurging: {enabled: false}}
http: {addr: "$REG"}
YML
  # nsenter execs the registry: reg_pid is the registry itself.
  nsenter --net="$reg_net" docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  reg_pid=$!
  end=$((SECONDS + 30))
  until nsenter --net="$reg_net" timeout 5 busybox wget -q -O /dev/null "http://$REG/v2/" 2>/dev/null; do
    if [ "$SECONDS" -ge "$end" ] || ! kill -0 "$reg_pid" 2>/dev/null; then
      fail "registry up" "no answer on $REG: $(tail -3 "$dir/registry.log")"
      registry_down
      return 1
    fi
    sleep 0.2
  done
}

# registry_down: stop the registry and remove the namespace registry_up made (from the stories'
# EXIT traps too: safe to call twice).
registry_down() {
  [ -n "$reg_pid" ] && { kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; }
  [ -n "$reg_ns" ] && ip netns del "$reg_ns" 2>/dev/null
  reg_pid= reg_ns=
}

# in_registry_net CMD...: CMD in the registry's network namespace (where $REG answers).
in_registry_net() { nsenter --net="$reg_net" "$@"; }

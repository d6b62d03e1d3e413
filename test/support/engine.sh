#!/usr/bin/env bash
# Make the Pulumi engine available offline, built from Go modules, and print its bin dir.
#
# If a working `pulumi` is already on PATH, print its directory and stop (set
# DOCKWALL_ENGINE_FORCE_BUILD=1 to ignore it). Otherwise build into a cache outside the
# repository, ${DOCKWALL_ENGINE_DIR:-$HOME/.cache/dockwall/engine}/<version>/bin:
#
#   pulumi                         CLI + engine, module github.com/pulumi/pulumi/pkg/v3 at the
#                                  release matching @pulumi/pulumi in package-lock.json (or the
#                                  closest one the Go module proxy serves), version ldflag set;
#   pulumi-language-nodejs         the Node.js language host. The upstream module
#                                  (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3)
#                                  is NOT served by the module proxy reachable here, so this is
#                                  dockwall's own minimal host (embedded below), built against
#                                  the same sdk/v3 release: it runs programs through
#                                  @pulumi/pulumi/cmd/run and does nothing else;
#   pulumi-resource-pulumi-nodejs  copied from node_modules/@pulumi/pulumi (dynamic providers);
#
# and, as resource plugin openstack 3.15.2 in PULUMI_HOME (<cache root>/pulumi-home/plugins):
#   pulumi-resource-openstack      the stock plugin if the proxy serves
#                                  github.com/pulumi/pulumi-openstack/provider/v3 (it does not
#                                  today: the reason is recorded in <version>/stamps/ and the
#                                  probe is repeated at most once a day), else the same bridge
#                                  construction from served modules (test/support/openstack-plugin).
#
# Go's module and build caches live under the same cache root (go/mod, go/build) so that
# later runs and CI on the same machine reuse them. Stamps keyed by version make a second
# run a no-op. Progress goes to stderr ("[engine] ..."), build output to <version>/logs/;
# the last line on stdout is the bin dir. Nothing is written inside the repository.
#
# Environment:
#   DOCKWALL_ENGINE_DIR            cache root (default $HOME/.cache/dockwall/engine)
#   DOCKWALL_ENGINE_FORCE_BUILD=1  ignore a pulumi already on PATH
#   DOCKWALL_PULUMI_VERSION        build this version instead of the one in package-lock.json
#   DOCKWALL_GOTOOLCHAIN           GOTOOLCHAIN for the CLI and language host (default auto)
#   DOCKWALL_OPENSTACK_GOTOOLCHAIN GOTOOLCHAIN for the OpenStack provider (default go1.24.13: its
#                                  pinned golang.org/x/tools is reported not to compile with Go >= 1.25;
#                                  unverified, the module could not be fetched here)
set -euo pipefail

say() { echo "[engine] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROOT="${DOCKWALL_ENGINE_DIR:-$HOME/.cache/dockwall/engine}"
# PULUMI_HOME for every pulumi this script runs (engine.ts uses the same directory), so that
# nothing lands in ~/.pulumi.
PULUMI_HOME_DIR="$ROOT/pulumi-home"

# ---------------------------------------------------------------------------------------
# 0. A pulumi that already works on PATH wins.
if [ "${DOCKWALL_ENGINE_FORCE_BUILD:-}" != "1" ] && command -v pulumi >/dev/null 2>&1; then
  existing="$(command -v pulumi)"
  mkdir -p "$PULUMI_HOME_DIR"
  if v="$(PULUMI_HOME="$PULUMI_HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=true "$existing" version 2>/dev/null)" \
    && [ -n "$v" ]; then
    say "using pulumi $v already on PATH ($existing)"
    dirname "$(readlink -f "$existing")"
    exit 0
  fi
  say "pulumi on PATH ($existing) does not work; building one"
fi

# ---------------------------------------------------------------------------------------
# 1. Which version.
lock="$REPO_ROOT/package-lock.json"
if [ -n "${DOCKWALL_PULUMI_VERSION:-}" ]; then
  WANTED="${DOCKWALL_PULUMI_VERSION#v}"
else
  [ -f "$lock" ] || die "no $lock"
  WANTED="$(node -e '
    const lock = require(process.argv[1]);
    const p = (lock.packages || {})["node_modules/@pulumi/pulumi"] || (lock.dependencies || {})["@pulumi/pulumi"];
    if (!p || !p.version) process.exit(1);
    process.stdout.write(p.version);' "$lock")" || die "no @pulumi/pulumi version in $lock"
fi

mkdir -p "$ROOT/resolved" "$PULUMI_HOME_DIR"
export GOMODCACHE="$ROOT/go/mod" GOCACHE="$ROOT/go/build"
export GOFLAGS="-modcacherw -buildvcs=false"
export GOTOOLCHAIN="${DOCKWALL_GOTOOLCHAIN:-auto}"
# Never let a go command see the repository (or any other module) as its main module.
cd "$ROOT"

# One build at a time per cache root (parallel test workers may all call this).
exec 9>"$ROOT/.lock"
flock 9

need_go() { command -v go >/dev/null 2>&1 || die "go is not on PATH (needed to build the engine)"; }

# Release of pulumi/pkg/v3 (and sdk/v3) that the proxy serves closest to $WANTED:
# the exact one, else the newest older one, else the oldest newer one.
resolve_version() {
  local pkgv sdkv both
  pkgv="$(go list -m -versions github.com/pulumi/pulumi/pkg/v3 2>&1)" \
    || die "cannot list github.com/pulumi/pulumi/pkg/v3 versions: $pkgv"
  sdkv="$(go list -m -versions github.com/pulumi/pulumi/sdk/v3 2>&1)" \
    || die "cannot list github.com/pulumi/pulumi/sdk/v3 versions: $sdkv"
  both="$(comm -12 <(tr ' ' '\n' <<<"$pkgv" | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -u) \
                   <(tr ' ' '\n' <<<"$sdkv" | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | sort -u) | sed 's/^v//')"
  [ -n "$both" ] || die "the proxy serves no release of both pulumi pkg/v3 and sdk/v3"
  if grep -qxF "$WANTED" <<<"$both"; then echo "$WANTED"; return; fi
  local older newer
  older="$( (echo "$both"; echo "$WANTED") | sort -V | grep -xF -B1 "$WANTED" | head -n1)"
  if [ -n "$older" ] && [ "$older" != "$WANTED" ]; then echo "$older"; return; fi
  newer="$( (echo "$both"; echo "$WANTED") | sort -V | grep -xF -A1 "$WANTED" | tail -n1)"
  echo "$newer"
}

if [ -s "$ROOT/resolved/$WANTED" ]; then
  V="$(cat "$ROOT/resolved/$WANTED")"
else
  need_go
  say "resolving pulumi $WANTED against the Go module proxy ..."
  V="$(resolve_version)"
  [ "$V" = "$WANTED" ] || say "pulumi $WANTED is not served; using the closest release, $V"
  echo "$V" >"$ROOT/resolved/$WANTED"
fi

VDIR="$ROOT/$V"
BIN="$VDIR/bin"
STAMPS="$VDIR/stamps"
LOGS="$VDIR/logs"
SRC="$VDIR/src"
mkdir -p "$BIN" "$STAMPS" "$LOGS" "$SRC"
LDFLAGS_VERSION="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$V"

# Run a command with its output in a log file; on failure show the tail and stop.
logged() {
  local log="$1"; shift
  echo "+ $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    say "FAILED: $* (full log: $log)"
    tail -n 40 "$log" | sed 's/^/[engine]   | /' >&2
    exit 1
  fi
}

stamp_ok() { [ -f "$STAMPS/$1.stamp" ] && [ "$(cat "$STAMPS/$1.stamp")" = "$2" ]; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# Upstream's monorepo layout (pkg/ and sdk/ side by side) rebuilt from the two module zips,
# so pkg's own go.mod, go.sum and `replace sdk/v3 => ../sdk` apply unchanged.
prepare_sources() {
  [ -f "$SRC/.complete" ] && return 0
  need_go
  say "downloading github.com/pulumi/pulumi/{pkg,sdk}/v3@v$V ..."
  local json pkgdir sdkdir
  json="$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$V" "github.com/pulumi/pulumi/sdk/v3@v$V")" \
    || die "go mod download of pulumi v$V failed: $json"
  pkgdir="$(grep -o '"Dir": "[^"]*pkg/v3@[^"]*"' <<<"$json" | cut -d'"' -f4)"
  sdkdir="$(grep -o '"Dir": "[^"]*sdk/v3@[^"]*"' <<<"$json" | cut -d'"' -f4)"
  if [ ! -d "$pkgdir" ] || [ ! -d "$sdkdir" ]; then die "module directories not found in: $json"; fi
  rm -rf "$SRC/pkg" "$SRC/sdk"
  cp -r "$pkgdir" "$SRC/pkg"
  cp -r "$sdkdir" "$SRC/sdk"
  chmod -R u+w "$SRC/pkg" "$SRC/sdk"
  touch "$SRC/.complete"
}

# ---------------------------------------------------------------------------------------
# 2. pulumi (CLI and engine). Same flags as upstream's release build.
build_cli() {
  local key="pulumi v$V recipe=1"
  if stamp_ok pulumi "$key" && [ -x "$BIN/pulumi" ]; then
    say "pulumi CLI v$V: cached"
    return 0
  fi
  need_go
  prepare_sources
  local t0; t0=$(date +%s)
  say "building pulumi CLI v$V (about 4-6 min cold on 2 cores; log: $LOGS/pulumi.log) ..."
  : >"$LOGS/pulumi.log"
  (cd "$SRC/pkg" && logged "$LOGS/pulumi.log" go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w $LDFLAGS_VERSION" -o "$BIN/pulumi.tmp" ./cmd/pulumi)
  local got
  got="$(PULUMI_HOME="$PULUMI_HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=true "$BIN/pulumi.tmp" version)"
  [ "$got" = "v$V" ] || die "built pulumi reports version '$got', expected 'v$V'"
  mv -f "$BIN/pulumi.tmp" "$BIN/pulumi"
  echo "$key" >"$STAMPS/pulumi.stamp"
  say "built pulumi CLI v$V in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------
# 3. pulumi-language-nodejs: dockwall's minimal Node.js language host (source below),
#    compiled as part of the sdk/v3 module so that sdk's own go.mod/go.sum pin everything.
write_langhost_source() {
  cat <<'GO'
// dockwall-langhost: a minimal Node.js language host for the Pulumi engine.
//
// Written for dockwall because the upstream pulumi-language-nodejs module is not
// served by the Go module mirror this project can reach. It speaks the
// pulumirpc.LanguageRuntime protocol and runs programs through the
// `@pulumi/pulumi/cmd/run` entry point of the SDK installed next to the program,
// which is the same contract the upstream host uses. It supports running
// programs only: no code generation, no dependency installation, no plugins
// written in Node.js (RunPlugin), and it reports no required packages up front
// (the engine then loads provider plugins on demand when resources are registered).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Exit code with which @pulumi/pulumi/cmd/run says "the error was already shown to the user".
const exitAfterLoggedError = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu         sync.Mutex
	engineAddr string
	tracing    string
	running    map[*exec.Cmd]struct{}
}

func main() {
	flags := flag.NewFlagSet("pulumi-language-nodejs", flag.ContinueOnError)
	tracing := flags.String("tracing", "", "tracing endpoint")
	flags.Bool("logtostderr", false, "log to stderr")
	flags.Bool("logflow", false, "flow logging settings to child processes")
	flags.Int("v", 0, "log verbosity")
	flags.String("root", "", "project root (ignored)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	h := &host{tracing: *tracing, running: map[*exec.Cmd]struct{}{}}
	if flags.NArg() > 0 {
		h.engineAddr = flags.Arg(flags.NArg() - 1)
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
		Options: []grpc.ServerOption{grpc.MaxRecvMsgSize(400 * 1024 * 1024)},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: could not start language host RPC server: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "fatal: language host RPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddr = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Plugins are not computed ahead of time; the engine resolves each provider when
// the program first registers a resource of that package.
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) InstallDependencies(
	_ *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return stream.Send(&pulumirpc.InstallDependenciesResponse{
		Stderr: []byte("dockwall nodejs language host: not installing dependencies (offline build); " +
			"install them with npm yourself\n"),
	})
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("could not find node on PATH")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %w", err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
		Metadata:   map[string]string{"host": "dockwall-langhost"},
	}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cmd := range h.running {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
	}
	return &emptypb.Empty{}, nil
}

// resolveFrom finds a module the way `require.resolve` does when started in dir
// (node_modules of dir and its parents, then NODE_PATH).
func resolveFrom(node, dir, module string) (string, error) {
	cmd := exec.Command(node, "-e", "process.stdout.write(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return "", fmt.Errorf("could not find %s from %s (is @pulumi/pulumi installed?): %s", module, dir, msg)
	}
	return strings.TrimSpace(string(out)), nil
}

func optionString(opts map[string]any, key string) (string, bool) {
	v, ok := opts[key]
	if !ok || v == nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		if t {
			return "true", true
		}
		return "false", true
	default:
		return fmt.Sprint(t), true
	}
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := info.GetProgramDirectory()
	if programDir == "" {
		programDir = req.GetPwd()
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram()
	}
	if entry == "" {
		entry = "."
	}
	pwd := req.GetPwd()
	if pwd == "" {
		pwd = programDir
	}
	opts := map[string]any{}
	if info.GetOptions() != nil {
		opts = info.GetOptions().AsMap()
	}

	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on PATH: " + err.Error()}, nil
	}
	runScript, err := resolveFrom(node, programDir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	var args []string
	if nodeargs, ok := optionString(opts, "nodeargs"); ok {
		args = append(args, strings.Fields(nodeargs)...)
	}
	args = append(args, runScript, "--monitor="+req.GetMonitorAddress())
	h.mu.Lock()
	engineAddr := h.engineAddr
	h.mu.Unlock()
	if engineAddr != "" {
		args = append(args, "--engine="+engineAddr)
	}
	for flagName, value := range map[string]string{
		"organization":   req.GetOrganization(),
		"project":        req.GetProject(),
		"stack":          req.GetStack(),
		"pwd":            pwd,
		"root-directory": info.GetRootDirectory(),
		"tracing":        h.tracing,
	} {
		if value != "" {
			args = append(args, "--"+flagName+"="+value)
		}
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		args = append(args, fmt.Sprintf("--parallel=%d", req.GetParallel()))
	}
	program := entry
	if entry != "." || filepath.Clean(pwd) != filepath.Clean(programDir) {
		program = filepath.Join(programDir, entry)
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
	)
	typescript := "true"
	if v, ok := optionString(opts, "typescript"); ok {
		typescript = v
	}
	env = append(env, "PULUMI_NODEJS_TYPESCRIPT="+typescript)
	if v, ok := optionString(opts, "tsconfig"); ok && v != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+v)
	}

	cmd := exec.Command(node, args...)
	cmd.Dir = pwd
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	h.mu.Lock()
	h.running[cmd] = struct{}{}
	h.mu.Unlock()
	err = cmd.Wait()
	h.mu.Lock()
	delete(h.running, cmd)
	h.mu.Unlock()

	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if status, ok := exitErr.Sys().(syscall.WaitStatus); ok {
			switch {
			case status.Signaled():
				return &pulumirpc.RunResponse{
					Error: fmt.Sprintf("Program exited due to a signal: %v", status.Signal()),
				}, nil
			case status.ExitStatus() == exitAfterLoggedError:
				return &pulumirpc.RunResponse{Bail: true}, nil
			default:
				return &pulumirpc.RunResponse{
					Error: fmt.Sprintf("Program exited with non-zero exit code: %d", status.ExitStatus()),
				}, nil
			}
		}
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program failed: %v", err)}, nil
}
GO
}

build_langhost() {
  local src_hash key
  src_hash="$(write_langhost_source | sha256sum | cut -c1-16)"
  key="pulumi-language-nodejs dockwall-langhost sdk=v$V src=$src_hash recipe=1"
  if stamp_ok langhost "$key" && [ -x "$BIN/pulumi-language-nodejs" ]; then
    say "pulumi-language-nodejs (dockwall host, sdk v$V): cached"
    return 0
  fi
  need_go
  prepare_sources
  local t0; t0=$(date +%s)
  say "building pulumi-language-nodejs (dockwall host, sdk v$V; the upstream module is not served by the proxy) ..."
  local dir="$SRC/sdk/nodejs/cmd/dockwall-language-nodejs"
  mkdir -p "$dir"
  write_langhost_source >"$dir/main.go"
  : >"$LOGS/langhost.log"
  (cd "$SRC/sdk" && logged "$LOGS/langhost.log" go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w $LDFLAGS_VERSION" -o "$BIN/pulumi-language-nodejs.tmp" ./nodejs/cmd/dockwall-language-nodejs)
  local got
  got="$("$BIN/pulumi-language-nodejs.tmp" -version)"
  [ "$got" = "v$V" ] || die "built language host reports version '$got', expected 'v$V'"
  mv -f "$BIN/pulumi-language-nodejs.tmp" "$BIN/pulumi-language-nodejs"
  echo "$key" >"$STAMPS/langhost.stamp"
  say "built pulumi-language-nodejs in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------
# 4. pulumi-resource-pulumi-nodejs: the dynamic-provider plugin is a shell script in the
#    @pulumi/pulumi npm package. It resolves @pulumi/pulumi from its working directory (the
#    engine starts it in the program's directory), so it works from any directory.
copy_dynamic_provider() {
  local from="$REPO_ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
  local to="$BIN/pulumi-resource-pulumi-nodejs"
  [ -f "$from" ] || die "$from is missing: run 'npm ci' in $REPO_ROOT first"
  if [ -x "$to" ] && cmp -s "$from" "$to"; then
    say "pulumi-resource-pulumi-nodejs: cached"
    return 0
  fi
  cp "$from" "$to.tmp"
  chmod 755 "$to.tmp"
  # Smoke test from the copy's new place: started in a directory that has @pulumi/pulumi in
  # reach, with an engine address (not contacted at start-up), a plugin prints the port it
  # listens on as its first line.
  local out pid port=""
  out="$(mktemp)"
  (cd "$REPO_ROOT" && exec setsid "$to.tmp" 127.0.0.1:1 </dev/null >"$out" 2>&1) &
  pid=$!
  for _ in $(seq 1 150); do
    port="$(head -n1 "$out" | grep -E '^[0-9]+$' || true)"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -z "$port" ]; then
    say "pulumi-resource-pulumi-nodejs did not start; its output:"
    sed 's/^/[engine]   | /' "$out" >&2
    rm -f "$out" "$to.tmp"
    exit 1
  fi
  rm -f "$out"
  mv -f "$to.tmp" "$to"
  say "copied pulumi-resource-pulumi-nodejs (smoke test: listened on port $port)"
}

# ---------------------------------------------------------------------------------------
# 5. pulumi-resource-openstack (what @pulumi/openstack 3.15.2 loads), installed into PULUMI_HOME
#    as resource plugin openstack 3.15.2 (`pulumi plugin install --file`), so the engine finds it
#    by the version the SDK asks for, without an "ambient plugin from $PATH" warning on every run.
#
#    a. The stock plugin: github.com/pulumi/pulumi-openstack/provider/v3 at the commit of tag
#       v3.15.2, built as the main module so its own replaces apply (schema-embed.json is
#       generated first: it is git-ignored, so not in the module zip). The proxy reachable here
#       answers 403 for every version of that module; the probe is repeated at most once a day.
#    b. Otherwise the same construction from modules that are served: Terraform's OpenStack
#       provider (terraform-provider-openstack/v3 v3.4.0) through pulumi-terraform-bridge
#       v3.120.0, the program in test/support/openstack-plugin (networks and subnets, under the
#       stock tokens; see its main.go).
OS_VERSION=3.15.2
OS_MODULE=github.com/pulumi/pulumi-openstack/provider/v3
OS_PSEUDO=v3.0.0-20240329191609-a9de4228c2fb   # commit a9de4228c2fb = tag v3.15.2
OS_PLUGIN_DIR="$VDIR/plugins"

install_openstack_plugin() { # <binary> <what>
  logged "$LOGS/openstack.log" env PULUMI_HOME="$PULUMI_HOME_DIR" PULUMI_SKIP_UPDATE_CHECK=true \
    "$BIN/pulumi" plugin install resource openstack "$OS_VERSION" --file "$1" --reinstall
  say "installed $2 as resource plugin openstack $OS_VERSION in $PULUMI_HOME_DIR/plugins"
}

openstack_installed() {
  [ -x "$PULUMI_HOME_DIR/plugins/resource-openstack-v$OS_VERSION/pulumi-resource-openstack" ]
}

build_openstack_stock() { # returns 1 when the module cannot be had
  local key="pulumi-resource-openstack $OS_VERSION $OS_PSEUDO recipe=2"
  if stamp_ok openstack "$key" && openstack_installed; then
    say "pulumi-resource-openstack $OS_VERSION (stock): cached"
    return 0
  fi
  local missing="$STAMPS/openstack.missing"
  if [ -f "$missing" ] && [ -z "$(find "$missing" -mmin +1440)" ]; then
    say "stock pulumi-resource-openstack $OS_VERSION: not available ($(head -n1 "$missing")); next probe after 24h, or delete $missing"
    return 1
  fi
  local t0 json dir
  t0=$(date +%s)
  say "probing $OS_MODULE@$OS_PSEUDO ..."
  if ! json="$(go mod download -json "$OS_MODULE@$OS_PSEUDO" 2>&1)" || grep -q '"Error"' <<<"$json"; then
    local reason
    reason="$(grep -o '"Error": "[^"]*' <<<"$json" | cut -d'"' -f4 | sed 's/\\n.*//' || true)"
    [ -n "$reason" ] || reason="$(tail -n1 <<<"$json")"
    echo "module $OS_MODULE@$OS_PSEUDO cannot be downloaded: $reason" >"$missing"
    say "stock pulumi-resource-openstack $OS_VERSION: NOT BUILT: $reason"
    return 1
  fi
  rm -f "$missing"
  dir="$(grep -o '"Dir": "[^"]*' <<<"$json" | cut -d'"' -f4)"
  rm -rf "$SRC/openstack-provider"
  cp -r "$dir" "$SRC/openstack-provider"
  chmod -R u+w "$SRC/openstack-provider"
  local tc="${DOCKWALL_OPENSTACK_GOTOOLCHAIN:-go1.24.13}"
  say "building stock pulumi-resource-openstack $OS_VERSION with GOTOOLCHAIN=$tc (log: $LOGS/openstack.log) ..."
  : >"$LOGS/openstack.log"
  mkdir -p "$OS_PLUGIN_DIR"
  (cd "$SRC/openstack-provider/cmd/pulumi-resource-openstack" \
    && VERSION="$OS_VERSION" GOTOOLCHAIN="$tc" logged "$LOGS/openstack.log" go run generate.go)
  (cd "$SRC/openstack-provider" && GOTOOLCHAIN="$tc" logged "$LOGS/openstack.log" go build \
    -ldflags "-s -w -X github.com/pulumi/pulumi-openstack/provider/v3/pkg/version.Version=$OS_VERSION" \
    -o "$OS_PLUGIN_DIR/pulumi-resource-openstack" ./cmd/pulumi-resource-openstack)
  install_openstack_plugin "$OS_PLUGIN_DIR/pulumi-resource-openstack" "the stock plugin"
  echo "$key" >"$STAMPS/openstack.stamp"
  say "built pulumi-resource-openstack $OS_VERSION (stock) in $(elapsed "$t0")"
}

build_openstack_bridged() {
  local src="$REPO_ROOT/test/support/openstack-plugin" key t0
  key="pulumi-resource-openstack $OS_VERSION bridged $(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)"
  if stamp_ok openstack "$key" && openstack_installed; then
    say "pulumi-resource-openstack $OS_VERSION (terraform-provider-openstack through pulumi-terraform-bridge): cached"
    return 0
  fi
  t0=$(date +%s)
  say "building pulumi-resource-openstack from terraform-provider-openstack v3 through pulumi-terraform-bridge"
  say "  (test/support/openstack-plugin; cold, this downloads the modules it needs and compiles for several minutes; log: $LOGS/openstack.log) ..."
  : >"$LOGS/openstack.log"
  mkdir -p "$OS_PLUGIN_DIR"
  (cd "$src" && logged "$LOGS/openstack.log" go build -mod=readonly -trimpath -ldflags "-s -w -X main.Version=$OS_VERSION" \
    -o "$OS_PLUGIN_DIR/pulumi-resource-openstack.tmp" .)
  mv -f "$OS_PLUGIN_DIR/pulumi-resource-openstack.tmp" "$OS_PLUGIN_DIR/pulumi-resource-openstack"
  install_openstack_plugin "$OS_PLUGIN_DIR/pulumi-resource-openstack" "the bridged plugin"
  echo "$key" >"$STAMPS/openstack.stamp"
  say "built pulumi-resource-openstack $OS_VERSION (bridged) in $(elapsed "$t0")"
}

build_openstack() {
  need_go
  build_openstack_stock || build_openstack_bridged
}

# ---------------------------------------------------------------------------------------
T0=$(date +%s)
build_cli
build_langhost
copy_dynamic_provider
build_openstack
say "engine v$V ready in $BIN ($(elapsed "$T0"))"
echo "$BIN"

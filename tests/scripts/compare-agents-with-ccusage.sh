#!/usr/bin/env bash
# Imports the Codex CLI and Gemini CLI fixtures with logbook and reads the
# same files with ccusage 20.0.24, then prints both token counts per
# session side by side (README: "Other agents against ccusage").
#
#   npm install --prefix target/ccusage ccusage@20.0.24
#   cargo build --release -p logbook-cli
#   bash tests/scripts/compare-agents-with-ccusage.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ccusage=${CCUSAGE:-target/ccusage/node_modules/.bin/ccusage}
logbook=${LOGBOOK:-target/release/logbook}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

# Where each agent keeps its files. ccusage only reads Gemini chats named
# session-*.json(l) under ~/.gemini/tmp/<project>/chats.
mkdir -p "$home/.codex/sessions/2026/01/02" "$home/.gemini/tmp/p/chats"
cp tests/fixtures/codex/*/*.jsonl "$home/.codex/sessions/2026/01/02/"
n=0
for f in tests/fixtures/gemini/codemie-code/session-*.json \
    tests/fixtures/gemini/vibecodingtracker/*.json* \
    tests/fixtures/gemini/entire-cli/ab-2b9748b105-0.full.jsonl; do
    n=$((n + 1))
    case $f in
    *gemini.jsonl) cp "$f" "$home/.gemini/tmp/p/chats/session-2026-01-01T00-00-$n.jsonl" ;;
    *) cp "$f" "$home/.gemini/tmp/p/chats/session-2026-01-01T00-00-$n.json" ;;
    esac
done

export HOME=$home CODEX_HOME=$home/.codex GEMINI_CLI_HOME=$home LOGBOOK_DIR=$home/store LOGBOOK_DAEMON=off
"$logbook" import >/dev/null
"$logbook" tokens --json >"$home/logbook.json"
"$ccusage" codex session --json --offline >"$home/codex.json"
"$ccusage" gemini session --json --offline >"$home/gemini.json"

python3 - "$home" <<'EOF'
import json, sys
home = sys.argv[1]
ours = {r["agent_session_id"]: r for r in json.load(open(f"{home}/logbook.json"))}
rows = []
for s in json.load(open(f"{home}/codex.json"))["sessions"]:
    # ccusage names a Codex session by its file; logbook by the thread id
    # of the file's session_meta.
    path = f'{home}/.codex/sessions/{s["directory"]}/{s["sessionFile"]}.jsonl'
    with open(path) as f:
        thread = json.loads(f.readline())["payload"]["id"]
    rows.append(("codex", thread, s))
for s in json.load(open(f"{home}/gemini.json"))["sessions"]:
    rows.append(("gemini", s["sessionId"], s))
print("| agent | session | logbook input / cache read / output | ccusage input / cache read / output |")
print("|---|---|---|---|")
for agent, sid, s in rows:
    mine = ours.get(sid)
    m = f'{mine["input"]:,} / {mine["cache_read"]:,} / {mine["output"]:,}' if mine else "missing"
    c = f'{s["inputTokens"]:,} / {s["cacheReadTokens"]:,} / {s["outputTokens"]:,}'
    print(f"| {agent} | `{sid[:8]}` | {m} | {c} |")
EOF

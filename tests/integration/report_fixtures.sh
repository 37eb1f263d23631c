#!/bin/sh
# The bounce/complaint parser against tests/fixtures/reports: real reports
# of well-known MTAs and feedback loops that are not in the corpus (see
# the README there for their sources), each with its expected answer.
# Every one must be right; one TAP line per message.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
python3 "$TOP/tests/corpus_score" --exact \
    --corpus "$TOP/tests/fixtures/reports" --bin "$BIN/optgate"

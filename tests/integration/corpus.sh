#!/bin/sh
# The bounce/complaint parser against the labelled corpus in
# ../shared/corpus (see its README): recipient >= 95%, class >= 90%,
# every complaint a complaint.  Prints the figures.
. "${OPTGATE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/tap.sh"
corpus="$TOP/../shared/corpus"
if [ ! -f "$corpus/expected.tsv" ]; then
	echo "ok 1 - # SKIP no corpus at $corpus"
	echo "1..1"
	exit 0
fi
python3 "$TOP/tests/corpus_score" --tap --corpus "$corpus" \
    --bin "$BIN/optgate"

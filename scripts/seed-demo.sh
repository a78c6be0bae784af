#!/usr/bin/env bash
# scripts/seed-demo.sh STUDIO_URL API_KEY MLBACKEND_URL — the demo project make run creates
# in a new studio database: a sentiment label config (<Choices> over <Text>), the 510 texts
# of demo/sentiment.jsonl as tasks, every 4th one annotated with its label (the training
# set), and the reference ML backend connected, interactive. Prints the project id.
set -euo pipefail
cd "$(dirname "$0")/.."
LS=$1 KEY=$2 ML=$3
DATA=demo/sentiment.jsonl
CFG='<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text" choice="single"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/></Choices></View>'
api() { # api METHOD PATH [JSON] — fails loudly on a non-2xx answer
  local out code
  out=$(curl -sS -w '\n%{http_code}' -X "$1" "$LS$2" -H "Authorization: Token $KEY" \
        -H 'Content-Type: application/json' ${3:+--data-binary "$3"})
  code=${out##*$'\n'}
  [[ "$code" == 2* ]] || { echo "seed-demo: $1 $2 answered $code: ${out%$'\n'*}" >&2; return 1; }
  printf '%s' "${out%$'\n'*}"
}
project=$(api POST /api/projects "$(jq -nc --arg c "$CFG" \
  '{title: "Sentiment demo", description: "capgate demo: review sentiment", label_config: $c}')" | jq .id)
api POST "/api/projects/$project/import" "$(jq -sc '[.[] | {text}]' "$DATA")" >/dev/null
first=$(api GET "/api/projects/$project/tasks?page_size=1" | jq '.[0].id // .tasks[0].id')
jq -r .label "$DATA" | awk -v first="$first" '(NR - 1) % 4 == 0 { print (first + NR - 1) " " $0 }' |
while read -r task label; do
  api POST "/api/tasks/$task/annotations" \
    "{\"result\":[{\"from_name\":\"sentiment\",\"to_name\":\"text\",\"type\":\"choices\",\"value\":{\"choices\":[\"$label\"]}}]}" >/dev/null
done
api POST /api/ml "$(jq -nc --arg u "$ML" --argjson p "$project" \
  '{url: $u, project: $p, title: "naive-bayes", is_interactive: true}')" >/dev/null
echo "$project"

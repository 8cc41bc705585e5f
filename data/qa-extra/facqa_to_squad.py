"""Convert IndoNLU's FacQA (token lists with B/I/O answer labels) into SQuAD-format JSON.

    python data/qa-extra/facqa_to_squad.py train_preprocess.csv valid_preprocess.csv > facqa.json

Tokens are joined with single spaces except before closing and after opening punctuation, and
the answer's character offsets are taken from that rendering. Examples whose labels mark more
than one answer span (list answers) are left out: a span head predicts one span.
"""

import ast
import csv
import hashlib
import json
import sys

_NO_SPACE_BEFORE = set(",.;:?!)]}%'\"")
_NO_SPACE_AFTER = set("([{$")


def detokenize(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    text, spans = "", []
    for i, tok in enumerate(tokens):
        if i and not (tok[0] in _NO_SPACE_BEFORE and len(tok) == 1) and tokens[i - 1] not in _NO_SPACE_AFTER:
            text += " "
        spans.append((len(text), len(text) + len(tok)))
        text += tok
    return text, spans


def answer_span(labels: list[str]) -> tuple[int, int] | None:
    starts = [i for i, lab in enumerate(labels) if lab == "B"]
    if len(starts) != 1:
        return None
    end = starts[0]
    while end + 1 < len(labels) and labels[end + 1] == "I":
        end += 1
    if any(lab != "O" for lab in labels[end + 1:]):
        return None
    return starts[0], end


def convert(paths: list[str]) -> dict:
    data = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh)):
                question = detokenize(ast.literal_eval(row["question"]))[0].strip()
                tokens, labels = ast.literal_eval(row["passage"]), ast.literal_eval(row["seq_label"])
                span = answer_span(labels) if len(tokens) == len(labels) else None
                if span is None:
                    continue
                context, offsets = detokenize(tokens)
                start, end = offsets[span[0]][0], offsets[span[1]][1]
                title = "facqa-" + hashlib.sha1(context.encode()).hexdigest()[:10]
                data.append(dict(title=title, paragraphs=[dict(context=context, qas=[dict(
                    id=f"{path.rsplit('/', 1)[-1].split('_')[0]}-{n}", question=question,
                    answers=[dict(text=context[start:end], answer_start=start)])])]))
    return dict(version="facqa-indonlu", data=data)


if __name__ == "__main__":
    json.dump(convert(sys.argv[1:]), sys.stdout, ensure_ascii=False)

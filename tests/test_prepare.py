"""``fuxictr-ssr data prepare`` on tiny fixtures: every input format and every error."""
import gzip
import hashlib
import os

import pandas as pd
import pytest

from fuxictr_ssr.data import bars
from fuxictr_ssr.data.prepare import md5sum, prepare

FRAPPE_FIELDS = bars.DATASETS["Frappe_x1"].fields
FRAPPE_LINES = ["1 266:1 1244:1 5042:1 5049:1 5054:1 5055:1 5058:1 5062:1 5074:1 5149:1",
                "0 138:1 1296:1 5041:1 5052:1 5053:1 5055:1 5058:1 5061:1 5085:1 5201:1"]


def write_libsvm(path, lines, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")


def test_libsvm_plain_and_gzipped_become_bars_csv(tmp_path):
    source = tmp_path / "afn"
    source.mkdir()
    write_libsvm(source / "train_reconstructed.libsvm.gz", FRAPPE_LINES, gz=True)
    write_libsvm(source / "valid.libsvm", FRAPPE_LINES[:1])
    write_libsvm(source / "test.libsvm", FRAPPE_LINES[1:])
    paths = prepare("frappe_x1", str(source), str(tmp_path / "out"))
    train = pd.read_csv(paths["train"])
    assert list(train.columns) == ["label"] + FRAPPE_FIELDS
    assert train.iloc[0].tolist() == [1, 266, 1244, 5042, 5049, 5054, 5055, 5058, 5062, 5074, 5149]
    assert len(pd.read_csv(paths["valid"])) == 1 and len(pd.read_csv(paths["test"])) == 1


def test_criteo_libsvm_keeps_numeric_values(tmp_path):
    fields = bars.DATASETS["Criteo_x1"].fields
    tokens = [f"{i}:{i * 10}" for i in range(13)] + [f"{100 + i}:1" for i in range(26)]
    for split in ("train", "valid", "test"):
        write_libsvm(tmp_path / f"{split}.libsvm", ["0 " + " ".join(tokens)])
    frame = pd.read_csv(prepare("Criteo_x1", str(tmp_path), str(tmp_path / "out"))["train"])
    assert list(frame.columns) == ["label"] + fields
    assert frame["I2"][0] == 10 and frame["I13"][0] == 120  # the value after ':'
    assert frame["C1"][0] == 100 and frame["C26"][0] == 125  # the index before ':'


def test_libsvm_with_wrong_token_count_names_file_and_line(tmp_path):
    write_libsvm(tmp_path / "train.libsvm", FRAPPE_LINES + ["1 3:1 4:1"])
    for split in ("valid", "test"):
        write_libsvm(tmp_path / f"{split}.libsvm", FRAPPE_LINES)
    with pytest.raises(ValueError, match=r"train.libsvm, line 3: expected a label and 10 'index:value' tokens"):
        prepare("Frappe_x1", str(tmp_path), str(tmp_path / "out"))


def test_bars_csv_is_verified_by_md5_then_linked(tmp_path, monkeypatch):
    source = tmp_path / "bars"
    source.mkdir()
    contents = {}
    for split in ("train", "valid", "test"):
        (source / f"{split}.csv").write_text(f"label,user\n1,{split}\n")
        contents[split] = hashlib.md5((source / f"{split}.csv").read_bytes()).hexdigest()
    fake = bars.BarsDataset("Frappe_x1", "x1", FRAPPE_FIELDS, md5=contents)
    monkeypatch.setitem(bars.DATASETS, "Frappe_x1", fake)
    paths = prepare("Frappe_x1", str(source), str(tmp_path / "out"))
    assert os.path.islink(paths["train"]) and open(paths["valid"]).read() == "label,user\n1,valid\n"
    copied = prepare("Frappe_x1", str(source), str(tmp_path / "copy"), copy=True)
    assert not os.path.islink(copied["test"]) and md5sum(copied["test"]) == contents["test"]


def test_bars_csv_with_wrong_md5_is_refused_unless_told(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.csv").write_text("label,user\n1,2\n")
    with pytest.raises(ValueError, match=r"train.csv: md5 \w+ differs from the published Frappe_x1 train md5 "
                                         "ba7306e6c4fc19dd2cd84f2f0596d158"):
        prepare("Frappe_x1", str(tmp_path), str(tmp_path / "out"))
    assert prepare("Frappe_x1", str(tmp_path), str(tmp_path / "out"), verify_md5=False)


def test_missing_split_and_unknown_dataset_are_named(tmp_path):
    write_libsvm(tmp_path / "train.libsvm", FRAPPE_LINES)
    with pytest.raises(ValueError, match=r"source: no valid.csv or valid\*.libsvm\[.gz\] in .*reczoo/Frappe_x1"):
        prepare("Frappe_x1", str(tmp_path), str(tmp_path / "out"))
    with pytest.raises(ValueError, match="dataset: unknown dataset 'Frappe_x9'; known: Criteo_x1"):
        prepare("Frappe_x9", str(tmp_path), str(tmp_path / "out"))
    with pytest.raises(ValueError, match="source: .*nowhere' does not exist"):
        prepare("Frappe_x1", str(tmp_path / "nowhere"), str(tmp_path / "out"))


def criteo_raw_rows(count):
    return ["\t".join([str(i % 2)] + [str(i)] * 13 + [f"{i:08x}"] * 26) for i in range(count)]


def test_raw_criteo_is_split_by_barss_stratified_rule(tmp_path):
    from sklearn.model_selection import StratifiedKFold
    rows = criteo_raw_rows(200)
    (tmp_path / "train.txt").write_text("\n".join(rows) + "\n")
    paths = prepare("Criteo_x4_001", str(tmp_path), str(tmp_path / "out"))
    splits = {name: pd.read_csv(path, dtype=str, keep_default_na=False) for name, path in paths.items()}
    assert list(splits["train"].columns) == bars.DATASETS["Criteo_x4_001"].fields
    assert bars.DATASETS["Criteo_x4_001"].fields[0] == "Label"  # reczoo's header
    # the rule, computed independently: test = held-out fold 0, valid = fold 1, train = folds 2..9
    labels = [int(row[0]) for row in rows]
    held_out = [index for _, index in StratifiedKFold(10, shuffle=True, random_state=2018).split(rows, labels)]
    expected = {"test": held_out[0], "valid": held_out[1], "train": [i for fold in held_out[2:] for i in fold]}
    for split, indices in expected.items():
        assert splits[split]["I1"].astype(int).tolist() == list(indices)
        assert open(paths[split]).read().splitlines()[1] == rows[indices[0]].replace("\t", ",")
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [160, 20, 20]
    assert {s: splits[s]["Label"].astype(int).mean() for s in splits} == {"train": 0.5, "valid": 0.5, "test": 0.5}
    assert not [name for name in os.listdir(tmp_path / "out") if name.endswith(".tmp")]
    again = prepare("Criteo_x4_001", str(tmp_path), str(tmp_path / "again"))
    assert open(again["train"]).read() == open(paths["train"]).read()


def test_prepare_says_whether_the_files_are_barss(tmp_path):
    from fuxictr_ssr.data.prepare import check_published_md5
    (tmp_path / "train.txt").write_text("\n".join(criteo_raw_rows(50)) + "\n")
    paths = prepare("Criteo_x4_001", str(tmp_path), str(tmp_path / "out"))
    note = check_published_md5(bars.DATASETS["Criteo_x4_001"], paths)
    assert note.startswith(f"train.csv md5 {md5sum(paths['train'])} differs from BARS's published "
                           "4a53bb7cbc0e4ee25f9d6a73ed824b1a")
    assert check_published_md5(bars.DATASETS["Frappe_x1"], paths) is None


def test_raw_criteo_errors_name_the_problem(tmp_path):
    (tmp_path / "train.txt").write_text("1\t2\t3\n")
    with pytest.raises(ValueError, match=r"train.txt: expected 40 tab-separated columns .* got 3 at row 1"):
        prepare("Criteo_x4_001", str(tmp_path), str(tmp_path / "out"))
    rows = criteo_raw_rows(3)
    rows[1] = "x" + rows[1][1:]
    (tmp_path / "train.txt").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"train.txt, row 2: column Label must be 0 or 1, got 'x'"):
        prepare("Criteo_x4_001", str(tmp_path), str(tmp_path / "out"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"source: expected one raw Criteo file in .* found none"):
        prepare("Criteo_x4_001", str(empty), str(tmp_path / "out"))


def test_raw_avazu_keeps_kaggle_columns_and_names_missing_ones(tmp_path):
    columns = bars.AVAZU_RAW_COLUMNS
    rows = [",".join([str(i), str(i % 2), "14102100"] + ["a"] * (len(columns) - 3)) for i in range(20)]
    (tmp_path / "train.csv").write_text(",".join(columns) + "\n" + "\n".join(rows) + "\n")
    paths = prepare("Avazu_x4_001", str(tmp_path), str(tmp_path / "out"))
    assert list(pd.read_csv(paths["train"]).columns) == columns
    assert sum(len(pd.read_csv(p)) for p in paths.values()) == 20
    (tmp_path / "train.csv").write_text("id,click\n1,0\n")
    with pytest.raises(ValueError, match="train.csv: missing columns hour, C1, banner_pos"):
        prepare("Avazu_x4_001", str(tmp_path), str(tmp_path / "out"))


@pytest.mark.parametrize("paper, x4, rows", [("Criteo_paper", "Criteo_x4_001", "criteo"),
                                             ("Avazu_paper", "Avazu_x4_001", "avazu")])
def test_the_paper_protocol_folders_read_the_raw_files_as_the_x4_ones(tmp_path, paper, x4, rows):
    if rows == "criteo":
        (tmp_path / "train.txt").write_text("\n".join(criteo_raw_rows(30)) + "\n")
    else:
        columns = bars.AVAZU_RAW_COLUMNS
        lines = [",".join([str(i), str(i % 2), "14102100"] + ["a"] * (len(columns) - 3)) for i in range(30)]
        (tmp_path / "train.csv").write_text(",".join(columns) + "\n" + "\n".join(lines) + "\n")
    ours, theirs = prepare(paper, str(tmp_path), str(tmp_path / "paper")), prepare(x4, str(tmp_path), str(tmp_path / "x4"))
    assert all(open(ours[split]).read() == open(theirs[split]).read() for split in ("train", "valid", "test"))


def test_a_raw_file_given_for_an_x1_dataset_points_to_the_raw_recipe_and_writes_nothing(tmp_path):
    raw = tmp_path / "train.txt"
    raw.write_text("0\t1\n")
    with pytest.raises(ValueError, match=r"source: '.*train.txt' is a file; Criteo_x1 needs the folder of BARS's "
                                         r"train/valid/test files .*From the raw Kaggle files"):
        prepare("Criteo_x1", str(raw), str(tmp_path / "out"))
    with pytest.raises(ValueError, match="no valid.csv"):
        (tmp_path / "afn").mkdir()
        write_libsvm(tmp_path / "afn" / "train.libsvm", FRAPPE_LINES)
        prepare("Frappe_x1", str(tmp_path / "afn"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def avazu_source(folder, rows=20, line_ending="\n"):
    columns = bars.AVAZU_RAW_COLUMNS
    lines = [",".join([str(i), str(i % 2), "14102100"] + ["a"] * (len(columns) - 3)) for i in range(rows)]
    (folder / "train.csv").write_bytes((line_ending.join([",".join(columns)] + lines) + line_ending).encode())
    return lines


def test_an_output_folder_that_would_overwrite_the_source_is_refused(tmp_path):
    avazu_source(tmp_path)
    before = (tmp_path / "train.csv").read_bytes()
    with pytest.raises(ValueError, match=r"--out: writing .*train.csv' would overwrite the source .*train.csv'"):
        prepare("Avazu_x4_001", str(tmp_path / "train.csv"), str(tmp_path))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.txt").write_text("\n".join(criteo_raw_rows(10)) + "\n")
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "src" / "train.txt", tmp_path / "out" / "test.csv")  # the source under another name
    with pytest.raises(ValueError, match="would overwrite the source"):
        prepare("Criteo_x4_001", str(tmp_path / "src"), str(tmp_path / "out"))
    assert (tmp_path / "train.csv").read_bytes() == before


@pytest.mark.parametrize("change, message", [
    (lambda lines: lines.__setitem__(5, lines[5][:30]), r"line 7: expected 24 comma-separated columns .* got \d+"),
    (lambda lines: lines.__setitem__(3, lines[3].replace("14102100", "14102x00")),
     r"line 5: column hour must be YYMMDDHH \(e.g. 14102100\), got '14102x00'"),
    (lambda lines: lines.__setitem__(2, lines[2].replace("14102100", "14102124")), r"line 4: column hour"),
])
def test_raw_avazu_rows_are_checked_like_criteos(tmp_path, change, message):
    lines = avazu_source(tmp_path)
    change(lines)
    (tmp_path / "train.csv").write_text("\n".join([",".join(bars.AVAZU_RAW_COLUMNS)] + lines) + "\n")
    with pytest.raises(ValueError, match=message):
        prepare("Avazu_x4_001", str(tmp_path), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "train.csv").exists()


def test_crlf_and_blank_lines_give_the_same_split_as_clean_lines(tmp_path):
    (tmp_path / "clean").mkdir()
    avazu_source(tmp_path / "clean", rows=30)
    (tmp_path / "crlf").mkdir()
    lines = avazu_source(tmp_path / "crlf", rows=30, line_ending="\r\n")
    text = (tmp_path / "crlf" / "train.csv").read_bytes().decode()
    (tmp_path / "crlf" / "train.csv").write_bytes(text.replace(lines[10] + "\r\n", lines[10] + "\r\n\r\n").encode()
                                                  + b"\n")
    clean = prepare("Avazu_x4_001", str(tmp_path / "clean"), str(tmp_path / "clean_out"))
    crlf = prepare("Avazu_x4_001", str(tmp_path / "crlf"), str(tmp_path / "crlf_out"))
    for split in clean:
        assert open(crlf[split], "rb").read() == open(clean[split], "rb").read()


def test_binary_garbage_is_named_with_its_file(tmp_path):
    rows = criteo_raw_rows(5)
    (tmp_path / "train.txt").write_bytes(("\n".join(rows) + "\n").encode() + b"\xff\xfe\x00\x81garbage\n")
    with pytest.raises(ValueError, match=r"train.txt \(after row \d+\): not UTF-8 text"):
        prepare("Criteo_x4_001", str(tmp_path), str(tmp_path / "out"))
    avazu_source(tmp_path)
    with open(tmp_path / "train.csv", "ab") as handle:
        handle.write(b"\x80\x81\x82\n")
    with pytest.raises(ValueError, match=r"train.csv \(after line \d+\): not UTF-8 text"):
        prepare("Avazu_x4_001", str(tmp_path), str(tmp_path / "out"))


def _ml100k(folder, ratings, header=False, separator="\t"):
    """A tiny ml-100k folder of our own rows: 3 users, 3 movies."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "u.data"), "w") as handle:
        handle.write("user\titem\trating\ttimestamp\n" if header else "")
        handle.writelines(separator.join(map(str, row)) + "\n" for row in ratings)
    with open(os.path.join(folder, "u.user"), "w") as handle:
        handle.write("1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|T8H1N\n")
    flags = {1: [0, 0, 0, 1, 1, 1] + [0] * 13, 2: [0, 1, 1] + [0] * 16, 3: [0] * 19}
    with open(os.path.join(folder, "u.item"), "w", encoding="latin-1") as handle:
        for item, date in ((1, "01-Jan-1995"), (2, "01-Jan-1995"), (3, "")):
            handle.write(f"{item}|Mis\xe9rables {item}|{date}||http://x|" + "|".join(map(str, flags[item])) + "\n")


def test_movielens_100k_labels_features_and_a_seeded_split(tmp_path):
    from fuxictr_ssr.data import movielens
    ratings = [(u, i, r, 880000000 + k) for k, (u, i, r) in enumerate(
        [(u, i, r) for u in (1, 2, 3) for i in (1, 2, 3) for r in (1, 2, 3, 4, 5)])]
    _ml100k(tmp_path / "ml", ratings)
    paths = prepare("MovieLens100K", str(tmp_path / "ml"), str(tmp_path / "out"), verify_md5=False)
    frames = {split: pd.read_csv(path, dtype=str, keep_default_na=False) for split, path in paths.items()}
    rows = pd.concat(frames.values())
    assert list(rows.columns) == movielens.COLUMNS
    assert len(rows) == 36 and [len(f) for f in frames.values()] == [29, 4, 3]  # the 9 ratings of 3 dropped; 8:1:1
    assert sorted(rows["label"].value_counts().items()) == [("0", 18), ("1", 18)]  # 1-2 negative, 4-5 positive
    first = rows[(rows["user_id"] == "3") & (rows["item_id"] == "1")].iloc[0]
    assert list(first[["age", "gender", "occupation", "zip_prefix", "release_year", "genres"]]) == \
        ["23", "M", "writer", "T8H", "1995", "Animation^Children's^Comedy"]
    assert set(rows[rows["item_id"] == "3"]["release_year"]) == {""} and set(rows[rows["item_id"] == "3"]["genres"]) == {""}
    again = prepare("MovieLens100K", str(tmp_path / "ml"), str(tmp_path / "again"), verify_md5=False)
    assert all(md5sum(again[s]) == md5sum(paths[s]) for s in paths)  # the same seed, the same split
    # a header line and pipe-separated ratings (copies in the wild) read the same
    _ml100k(tmp_path / "piped", ratings, header=True, separator="|")
    piped = prepare("MovieLens100K", str(tmp_path / "piped"), str(tmp_path / "piped_out"), verify_md5=False)
    assert all(md5sum(piped[s]) == md5sum(paths[s]) for s in paths)


def test_movielens_100k_inputs_are_checked_before_anything_is_written(tmp_path):
    _ml100k(tmp_path / "ml", [(1, 1, 5, 1), (2, 2, 1, 2)])
    with pytest.raises(ValueError, match=r"u.data: its used columns have md5 \w+, not GroupLens ml-100k's "
                                         r"6e47046882bad158b0efbb84cd5cb987 .*--no-verify"):
        prepare("MovieLens100K", str(tmp_path / "ml"), str(tmp_path / "out"))
    assert not os.path.exists(tmp_path / "out")
    _ml100k(tmp_path / "bad", [(1, 1, 7, 1)])
    with pytest.raises(ValueError, match="u.data, row 1: rating must be 1-5, got '7'"):
        prepare("MovieLens100K", str(tmp_path / "bad"), str(tmp_path / "bad_out"), verify_md5=False)
    _ml100k(tmp_path / "orphan", [(9, 1, 5, 1)])
    with pytest.raises(ValueError, match=r"u.data, row 1: user 9 \(u.user\) not found"):
        prepare("MovieLens100K", str(tmp_path / "orphan"), str(tmp_path / "orphan_out"), verify_md5=False)
    os.remove(tmp_path / "ml" / "u.item")
    with pytest.raises(ValueError, match="u.item not found in .* GroupLens's ml-100k folder"):
        prepare("MovieLens100K", str(tmp_path / "ml"), str(tmp_path / "out"), verify_md5=False)


ML100K = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "shared", "data", "ML100k_raw")


@pytest.mark.skipif(not os.path.isdir(ML100K), reason="GroupLens's ml-100k is not on this machine")
def test_grouplens_files_pass_the_check_and_give_the_documented_split(tmp_path):
    from fuxictr_ssr.data import movielens
    paths = prepare("MovieLens100K", ML100K, str(tmp_path))
    assert md5sum(paths["train"]) == movielens.TRAIN_MD5
    assert [sum(1 for _ in open(p)) - 1 for p in paths.values()] == [58284, 7286, 7285]

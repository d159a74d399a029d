"""The teams config is checked when it is loaded: every mistake is one line naming what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pike_tasks.errors import PikeConfigError
from pike_tasks.teams_config import parse_stored_config, parse_teams_config, read_teams_source

TEAM = "91ab2c3d-4e5f-4a6b-8c1d-2c3d4e5f6a7b"


def _file(tmp_path, text: str | bytes, name: str = "teams.yaml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def _error(source) -> str:
    with pytest.raises(PikeConfigError) as info:
        read_teams_source(source)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_file_that_is_not_utf8_is_one_line_naming_the_file(tmp_path):
    path = _file(tmp_path, f"teams:\n  {TEAM}:\n    name: Lieferung für München\n".encode("latin-1"))
    message = _error(path)
    assert path in message and "not UTF-8" in message and "0xfc" in message


def test_a_utf8_bom_is_not_part_of_the_config(tmp_path):
    path = _file(tmp_path, f"\ufeffteams:\n  {TEAM}: Delivery\n")
    assert read_teams_source(path).team_names() == {TEAM: "Delivery"}


def test_a_team_id_listed_twice_in_yaml_is_rejected_naming_the_id(tmp_path):
    path = _file(tmp_path, f"teams:\n  {TEAM}:\n    name: Delivery\n    managers: [a@example.com]\n"
                           f"  {TEAM}:\n    name: Delivery again\n")
    message = _error(path)
    assert TEAM in message and "twice" in message and "line 5" in message


def test_a_key_listed_twice_in_json_is_rejected(tmp_path):
    text = f'{{"teams": {{"{TEAM}": {{"name": "A"}}, "{TEAM}": {{"name": "B"}}}}}}'
    assert TEAM in _error(text)  # inline JSON
    assert TEAM in _error(_file(tmp_path, text, "teams.json"))  # a .json file


def test_ids_that_differ_only_in_yaml_type_are_the_same_team():
    with pytest.raises(PikeConfigError, match="team 123 is listed twice"):
        parse_teams_config({"teams": {123: "A", "123": "B"}})


@pytest.mark.parametrize("template, reason", [
    ("https://app.example.com/tasks/{task_id}", "found {task_id}"),
    ("https://app.example.com/tasks/{}", "only the {id} placeholder"),
    ("https://app.example.com/tasks/{id!r}", "found {id!r}"),
    ("https://app.example.com/tasks/{id", "unmatched braces"),
    ("https://app.example.com/tasks/id}", "unmatched braces"),
    ("https://app.example.com/tasks/", "only the {id} placeholder"),
    ("ftp://app.example.com/{id}", "http(s) URL"),
    ("https:///tasks/{id}", "http(s) URL"),
])
def test_a_bad_app_url_template_is_rejected_at_load(template, reason):
    assert reason in _error(json.dumps({"app_url_template": template}))


def test_a_good_app_url_template_may_hold_literal_braces():
    template = "https://app.example.com/tasks/{id}?view={{board}}"
    assert read_teams_source(json.dumps({"app_url_template": template})).app_url_template == template


@pytest.mark.parametrize("config, reason", [
    ({"team": {TEAM: "Delivery"}}, "unknown key 'team'"),
    ({"teams": {TEAM: {"name": "Delivery", "manager": "lead@example.com"}}}, "unknown key 'manager'"),
    ({"teams": {TEAM: {"managers": {"lead": "lead@example.com"}}}}, "managers must be a list"),
    ({"teams": {TEAM: {"managers": 5}}}, "managers must be a list"),
    ({"teams": {TEAM: {"name": ["Delivery"]}}}, "name must be text"),
    ({"teams": {"": "Delivery"}}, "empty id"),
    ({"teams": {None: "Delivery"}}, "empty id"),
])
def test_other_mistakes_fail_at_load_in_one_line(config, reason):
    with pytest.raises(PikeConfigError) as info:
        parse_teams_config(config)
    assert reason in str(info.value)


def test_slack_and_teams_keys_load_and_round_trip():
    config = parse_teams_config({"slack": {"direct_messages": True}, "teams": {
        TEAM: {"name": "Delivery", "managers": ["lead@example.com"], "slack_channel": "C0123ABCD",
               "teams_webhook_secret": "delivery-teams-webhook"},
        "T2": {"name": "Design", "slack_channel": "#design-team"},
    }})
    assert config.slack_direct_messages is True
    assert config.teams[TEAM].slack_channel == "C0123ABCD" and config.teams["T2"].slack_channel == "#design-team"
    assert config.teams[TEAM].teams_webhook_secret == "delivery-teams-webhook"
    assert parse_teams_config(config.as_plain()) == config
    plain = parse_teams_config({"teams": {TEAM: "Delivery"}})
    assert plain.slack_direct_messages is False and "slack" not in plain.as_plain()
    assert set(plain.as_plain()["teams"][TEAM]) == {"name", "managers"}  # nothing new where nothing is set


@pytest.mark.parametrize("config, reason", [
    ({"slack": True}, "slack must be a mapping"),
    ({"slack": {"dms": True}}, "unknown key 'dms'"),
    ({"slack": {"direct_messages": "yes"}}, "direct_messages must be true or false"),
    ({"teams": {TEAM: {"slack_channel": "general"}}}, "slack_channel must be a channel id"),
    ({"teams": {TEAM: {"slack_channel": "<!channel>"}}}, "slack_channel must be a channel id"),
    ({"teams": {TEAM: {"teams_webhook_secret": "https://prod.westus.logic.azure.com/workflows/x?sig=SECRET"}}},
     "never put the URL itself"),
    ({"teams": {TEAM: {"teams_webhook_secret": "Has Spaces"}}}, "Prefect Secret block name"),
])
def test_slack_and_teams_mistakes_fail_at_load_in_one_line(config, reason):
    with pytest.raises(PikeConfigError) as info:
        parse_teams_config(config)
    assert reason in str(info.value) and "\n" not in str(info.value)
    assert "SECRET" not in str(info.value)  # a pasted webhook URL is never echoed


def test_yaml_surrogate_escapes_become_the_character_or_a_replacement(tmp_path):
    path = _file(tmp_path, f'teams:\n  {TEAM}:\n    name: "Team \\ud83d\\ude00 \\ud800"\n')
    assert read_teams_source(path).team_names() == {TEAM: "Team \U0001f600 \ufffd"}


def test_the_example_config_still_loads():
    from pathlib import Path

    config = read_teams_source(str(Path(__file__).resolve().parent.parent / "teams.example.yaml"))
    assert len(config.teams) == 4


def test_a_stored_config_is_checked_like_a_file():
    stored = json.dumps({"teams": {TEAM: "Delivery"}})  # a Variable set by hand as a JSON string
    assert parse_stored_config(stored, "block 'x'").team_names() == {TEAM: "Delivery"}
    with pytest.raises(PikeConfigError, match=r"teams config \(Variable 'x'\) is invalid"):
        parse_stored_config("{not json", "Variable 'x'")
    with pytest.raises(PikeConfigError, match=r"\(block 'x'\) must be a JSON object with 'teams', not list"):
        parse_stored_config([TEAM], "block 'x'")


def test_the_parser_never_imports_the_block_reader():
    """issue 21: teams_store imports teams_config, never the other way (nor Prefect)."""
    code = ("import sys, pike_tasks.teams_config as c; c.read_teams_source({'teams': {}}); "
            "print(sorted(m for m in sys.modules if m == 'pike_tasks.teams_store' or m.split('.')[0] == 'prefect'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"

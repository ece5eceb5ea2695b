"""The scripted model: the TOML format, attempt-specific turns, errors with a line; through the real tool loop."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from textwrap import dedent

import pytest

from storyc.compiler.specs import spec_path
from storyc.errors import InputError
from storyc.plan import Price
from storyc.runners.agents.base import AgentTask, Budget, Usage
from storyc.runners.agents.scripted import ScriptedClient, ScriptedRunner, script_path
from storyc.runners.agents.tools import ToolExecutor

SCRIPT = dedent(
    '''\
    # The builder writes a file, then says it is done.
    [[builder]]
    say = "I'll write the model."
    tool = "Write"
    input = { file_path = "src/x.py", content = "x = 1\\n" }
    usage = { input = 10, output = 5 }

    [[builder]]
    say = "Done."

    [[reviewer]]
    tool = "Read"
    [reviewer.input]
    file_path = "src/x.py"

    [[reviewer]]
    say = "VERDICT: APPROVE"

    [[attempt.2.builder]]
    tool = "Write"
    input = { file_path = "src/x.py", content = "x = 2\\n" }
    '''
)


def write(tmp_path: Path, text: str, name: str = "S-1.toml") -> Path:
    path = tmp_path / "scripts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def play(client: ScriptedClient, n: int):
    return [client.create(model="m", system="", tools=[], messages=[], max_tokens=1) for _ in range(n)]


def test_turns_play_in_order_with_deterministic_ids(tmp_path):
    first, second, after = play(ScriptedClient(write(tmp_path, SCRIPT), "builder", 1), 3)
    assert first.content == [
        {"type": "text", "text": "I'll write the model."},
        {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"file_path": "src/x.py", "content": "x = 1\n"}},
    ]
    assert (first.stop_reason, first.usage) == ("tool_use", Usage(10, 5, 0, 0))
    assert (second.content, second.stop_reason) == ([{"type": "text", "text": "Done."}], "end_turn")
    assert (after.content, after.stop_reason) == ([{"type": "text", "text": "(end of script)"}], "end_turn")


def test_an_input_table_after_the_turn(tmp_path):
    (read, verdict) = play(ScriptedClient(write(tmp_path, SCRIPT), "reviewer", 1), 2)
    assert read.content == [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "src/x.py"}}]
    assert verdict.content == [{"type": "text", "text": "VERDICT: APPROVE"}]


def test_attempt_turns_replace_the_role_turns_on_that_attempt_only(tmp_path):
    path = write(tmp_path, SCRIPT)
    (turn,) = play(ScriptedClient(path, "builder", 2), 1)
    assert turn.content[0]["input"]["content"] == "x = 2\n"
    (turn,) = play(ScriptedClient(path, "builder", 3), 1)
    assert turn.content[0]["text"] == "I'll write the model."


def test_a_role_without_turns_ends_at_once_and_never_approves(tmp_path):
    (turn,) = play(ScriptedClient(write(tmp_path, '[[builder]]\nsay = "hi"\n'), "reviewer", 1), 1)
    assert (turn.content, turn.stop_reason) == ([{"type": "text", "text": "(no script)"}], "end_turn")


def test_a_forced_stop_reason(tmp_path):
    (turn,) = play(ScriptedClient(write(tmp_path, '[[builder]]\nsay = "Half a"\nstop = "max_tokens"\n'), "builder", 1), 1)
    assert turn.stop_reason == "max_tokens"


def test_the_runner_plays_the_script_through_the_tool_loop(tmp_path):
    write(tmp_path, SCRIPT)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    task = AgentTask("S-1", "builder", "claude-test", 1, "sys", "prompt", workspace, Budget(), tmp_path / "t.jsonl", tmp_path / "p.md")
    runner = ScriptedRunner(tmp_path / "scripts", lambda t: ToolExecutor(t.workspace, allowed=t.tools))
    result = runner.run(task)
    assert (result.finished, result.stop, result.text, result.turns) == (True, "end_turn", "Done.", 2)
    assert (workspace / "src" / "x.py").read_text() == "x = 1\n"
    assert result.changed == ["src/x.py"]
    assert result.cost_usd == 0.0 and result.usage == Usage(10, 5)  # a script may report usage; it costs nothing


def test_scripted_usage_can_be_priced_to_drive_the_dollar_budget(tmp_path):
    turn = '[[builder]]\ntool = "Read"\ninput = { file_path = "a" }\nusage = { input = 1000000 }\n'
    write(tmp_path, turn * 5)
    task = AgentTask("S-1", "builder", "m", 1, "sys", "prompt", tmp_path, Budget(usd=2.5), tmp_path / "t.jsonl", tmp_path / "p.md")
    runner = ScriptedRunner(tmp_path / "scripts", lambda t: ToolExecutor(t.workspace, allowed=t.tools), price=Price(input=1.0, output=0.0))
    result = runner.run(task)
    assert (result.stop, result.turns, result.cost_usd) == ("budget", 3, 3.0)


def test_story_ids_into_file_names(tmp_path):
    assert script_path(tmp_path, "STORY-1.2_a") == tmp_path / "STORY-1.2_a.toml"
    assert script_path(tmp_path, "auth/login ok") == tmp_path / "auth_login_ok.toml"
    assert script_path(tmp_path, "../x") == tmp_path / "_x.toml"


def test_a_script_is_named_as_the_story_s_spec_is(tmp_path):
    # One rule for both (storyc.files.safe_name): a run of other characters is one `_`, dots at either end go.
    assert script_path(tmp_path, "a//b.") == tmp_path / "a_b.toml"
    assert PurePosixPath(spec_path("build", "a//b.")).stem.startswith("a_b-")  # plus a digest: `a_b` may be another id


# ------------------------------------------------------------------ bad scripts


def refused(path: Path, role: str, message: str, line: int) -> InputError:
    with pytest.raises(InputError, match=message) as caught:
        ScriptedClient(path, role, 1)
    error = caught.value
    assert error.where is not None and (Path(error.where.file), error.where.line) == (path, line)
    assert error.hint
    return error


def test_bad_toml_is_an_input_error_with_its_line(tmp_path):
    path = write(tmp_path, '[[builder]]\nsay = "ok"\n\n[[builder]]\nsay = "unclosed\n')
    error = refused(path, "builder", r"the script S-1.toml is not valid TOML", 5)
    assert 'say = "unclosed' in error.render()


def test_an_unknown_key_in_a_turn_points_at_its_line(tmp_path):
    path = write(tmp_path, '[[builder]]\nsay = "ok"\n\n[[builder]]\nsay = "x"\ntools = "Write"\n')
    error = refused(path, "builder", r"unknown key `tools` in turn 2 of `builder`", 6)
    assert error.hint.startswith("did you mean `tool`?")


def test_an_input_without_a_tool(tmp_path):
    path = write(tmp_path, '[[reviewer]]\nsay = "ok"\n[[reviewer]]\ninput = { file_path = "a" }\n')
    refused(path, "reviewer", r"turn 2 of `reviewer` has an input but no tool", 3)


def test_a_role_that_is_not_a_list_of_turns(tmp_path):
    refused(write(tmp_path, '\n[builder]\nsay = "ok"\n'), "builder", r"`builder` is not a list of turns", 2)


def test_an_unknown_table(tmp_path):
    refused(write(tmp_path, '[[builder]]\nsay = "ok"\n[[bulider]]\nsay = "x"\n'), "builder", r"unknown table `bulider`", 3)


def test_a_bad_attempt_number(tmp_path):
    refused(write(tmp_path, '[[attempt.0.builder]]\nsay = "x"\n'), "builder", r"attempt `0` is not an attempt number", 1)


def test_bad_attempt_turns_are_checked_too(tmp_path):
    path = write(tmp_path, '[[builder]]\nsay = "ok"\n[[attempt.2.builder]]\nsay = 3\n')
    refused(path, "builder", r"`say` in turn 1 of `attempt.2.builder` must be a string", 4)


def test_a_wrong_value_type_and_bad_usage(tmp_path):
    refused(write(tmp_path, '[[builder]]\ntool = "Write"\ninput = "x"\n'), "builder", r"`input` .* must be a table", 3)
    refused(write(tmp_path, '[[builder]]\nsay = "a"\nusage = { input = -1 }\n'), "builder", r"bad usage in turn 1", 3)


def test_a_missing_script(tmp_path):
    with pytest.raises(InputError, match=r"no script for this story: (?:.*/)?S-9.toml does not exist") as caught:
        ScriptedClient(tmp_path / "S-9.toml", "builder", 1)
    assert "[[builder]]" in caught.value.hint

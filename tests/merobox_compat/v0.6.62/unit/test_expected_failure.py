"""
Unit tests for the ``expected_failure`` flag on non-``call`` step types.

Until now only ``execute.py`` (the ``call`` step) honored ``expected_failure``;
the flag was silently dropped on every other step type. These tests cover the
shared BaseStep helpers and the per-step behavior for the step types that were
updated: join_context, join_namespace, create_context, create_namespace,
install_application, create_namespace_invitation, create_group_in_namespace,
add_group_members.
"""

import asyncio
from unittest.mock import AsyncMock, MagicMock, patch

import pytest

from merobox.commands.bootstrap.steps.context import CreateContextStep
from merobox.commands.bootstrap.steps.group_create import CreateNamespaceStep
from merobox.commands.bootstrap.steps.group_invite import CreateNamespaceInvitationStep
from merobox.commands.bootstrap.steps.group_join import JoinNamespaceStep
from merobox.commands.bootstrap.steps.group_management import (
    DeleteContextStep,
    DeleteGroupStep,
    DeleteNamespaceStep,
    GetGroupInfoStep,
    GetMemberCapabilitiesStep,
    ListGroupContextsStep,
    ListGroupMembersStep,
    RemoveGroupMembersStep,
    SetDefaultCapabilitiesStep,
    SetMemberCapabilitiesStep,
    SetSubgroupVisibilityStep,
    UpdateMemberRoleStep,
)
from merobox.commands.bootstrap.steps.group_upgrade import UpgradeGroupStep
from merobox.commands.bootstrap.steps.install import InstallApplicationStep
from merobox.commands.bootstrap.steps.join_context import JoinContextStep
from merobox.commands.bootstrap.steps.namespace import CreateGroupInNamespaceStep
from merobox.commands.bootstrap.steps.subgroup import AddGroupMembersStep


def _run(coro):
    """Run a coroutine inside pytest without relying on pytest-asyncio."""
    return asyncio.get_event_loop().run_until_complete(coro)


# =============================================================================
# BaseStep helpers
# =============================================================================


class TestExpectedFailureHelpers:
    """Verify the shared helpers on BaseStep."""

    def _make_step(self, **extra):
        config = {
            "type": "join_context",
            "name": "helper test",
            "node": "calimero-node-1",
            "context_id": "ctx1",
            **extra,
        }
        return JoinContextStep(config)

    def test_default_is_false(self):
        assert self._make_step()._is_expected_failure() is False

    def test_true_is_true(self):
        assert self._make_step(expected_failure=True)._is_expected_failure() is True

    def test_false_is_false(self):
        assert self._make_step(expected_failure=False)._is_expected_failure() is False

    def test_non_bool_raises(self):
        step = self._make_step(expected_failure="yes")
        with pytest.raises(ValueError, match="expected_failure.*boolean"):
            step._is_expected_failure()


class TestExpectedErrorHelper:
    """`expected_error` pins WHICH failure a negative test accepts; without it
    an unreachable node stands in for the refusal under test."""

    def _step(self, **extra):
        return JoinContextStep(
            {
                "type": "join_context",
                "name": "reason test",
                "node": "n1",
                "context_id": "ctx1",
                **extra,
            }
        )

    def test_matching_substring_passes(self):
        step = self._step(expected_failure=True, expected_error="identity downgrade")
        assert step._report_expected_failure("identity downgrade forbidden") is True

    def test_wrong_reason_fails(self):
        step = self._step(expected_failure=True, expected_error="identity downgrade")
        assert step._report_expected_failure("connection refused") is False

    def test_match_is_case_sensitive(self):
        step = self._step(expected_failure=True, expected_error="No Embedded ABI")
        assert step._report_expected_failure("no embedded ABI") is False

    def test_failure_detail_does_not_repeat_an_embedded_cause(self):
        """Call sites build the message as f"<verb> failed: {e}" and pass the
        same exception, so appending the cause would print it twice."""
        from merobox.commands.result import fail

        step = self._step(expected_failure=True)
        err = RuntimeError("node unreachable")
        detail = step._failure_detail(fail(f"create_context failed: {err}", error=err))
        assert detail == "create_context failed: node unreachable"

    def test_failure_detail_appends_a_distinct_cause(self):
        from merobox.commands.result import fail

        step = self._step(expected_failure=True)
        err = RuntimeError("node unreachable")
        detail = step._failure_detail(fail("create_context failed", error=err))
        assert detail == "create_context failed: node unreachable"

    def test_no_expected_error_accepts_any_failure(self):
        assert (
            self._step(expected_failure=True)._report_expected_failure("boom") is True
        )

    def test_without_expected_failure_it_is_a_config_error(self):
        # Silently never asserting is the exact failure mode being closed here.
        with pytest.raises(ValueError, match="expected_error.*requires"):
            self._step(expected_error="whatever")

    def test_non_string_raises(self):
        with pytest.raises(ValueError, match="'expected_error' must be a string"):
            self._step(expected_failure=True, expected_error=7)

    def test_empty_string_raises(self):
        # An empty substring matches everything, so it asserts nothing.
        with pytest.raises(ValueError, match="expected_error.*empty"):
            self._step(expected_failure=True, expected_error="  ")

    def test_a_placeholder_is_resolved_before_matching(self):
        # An unresolved template can never occur in a runtime error, so an
        # unbound `expected_error` fails every gate that parameterizes it.
        step = self._step(expected_failure=True, expected_error="{{reason}}")
        step.bind_expected_error({}, {"reason": "identity downgrade"})
        assert step._report_expected_failure("identity downgrade forbidden") is True

    def test_a_resolved_placeholder_still_rejects_the_wrong_reason(self):
        step = self._step(expected_failure=True, expected_error="{{reason}}")
        step.bind_expected_error({}, {"reason": "identity downgrade"})
        assert step._report_expected_failure("connection refused") is False

    def test_an_embedded_placeholder_is_resolved(self):
        step = self._step(
            expected_failure=True, expected_error="downgrade to {{version}}"
        )
        step.bind_expected_error({}, {"version": "1.2.3"})
        assert step._report_expected_failure("refused: downgrade to 1.2.3") is True

    def test_a_placeholder_resolving_to_empty_does_not_accept_any_failure(self):
        # "" is a substring of every message, so a pin resolving to it would
        # reopen the loophole the config-time empty check closes.
        step = self._step(expected_failure=True, expected_error="{{reason}}")
        step.bind_expected_error({}, {"reason": ""})
        assert step._report_expected_failure("connection refused") is False

    def test_a_non_string_placeholder_value_does_not_crash_the_match(self):
        step = self._step(expected_failure=True, expected_error="{{code}}")
        step.bind_expected_error({}, {"code": 404})
        assert step._report_expected_failure("HTTP 404 returned") is True

    @pytest.mark.asyncio
    async def test_the_workflow_executor_binds_before_running_a_step(self):
        # A dynamic `expected_error` only works if the executor binds it, so
        # dropping that call must not be a silent regression.
        from merobox.commands.bootstrap.run.executor import WorkflowExecutor

        step = self._step(expected_failure=True, expected_error="{{reason}}")
        step.execute = AsyncMock(return_value=True)
        executor = WorkflowExecutor(
            {"name": "wf", "steps": [{"type": "join_context", "name": "s"}]},
            MagicMock(),
        )
        executor.dynamic_values["reason"] = "identity downgrade"

        with patch.object(executor, "_create_step_executor", return_value=step):
            assert await executor._execute_workflow_steps() is True

        assert step._report_expected_failure("identity downgrade forbidden") is True


# =============================================================================
# JoinContextStep — the user-visible bug that motivated this change
# =============================================================================


class TestJoinContextExpectedFailure:
    """Exercise the two failure branches in JoinContextStep.execute()."""

    def _setup(self, expected_failure=True):
        config = {
            "type": "join_context",
            "name": "t",
            "node": "node-2",
            "context_id": "ctx",
            "expected_failure": expected_failure,
        }
        return JoinContextStep(config)

    def _run_with_mock_client(self, step, mock_client):
        with (
            patch.object(
                step,
                "_resolve_node_for_client",
                return_value=("http://localhost:1234", "node-2"),
            ),
            patch(
                "merobox.commands.bootstrap.steps.join_context.get_client_for_rpc_url",
                return_value=mock_client,
            ),
            patch.object(step, "_resolve_dynamic_value", side_effect=lambda v, *_: v),
        ):
            return _run(step.execute({}, {}))

    def test_exception_path_passes_when_expected(self):
        """Client raises → step should return True when expected_failure=True."""
        mock_client = MagicMock()
        mock_client.join_context.side_effect = RuntimeError(
            "context does not belong to any group"
        )
        step = self._setup(expected_failure=True)
        assert self._run_with_mock_client(step, mock_client) is True

    def test_exception_path_fails_when_not_expected(self):
        """Without the flag the step must still surface the failure."""
        mock_client = MagicMock()
        mock_client.join_context.side_effect = RuntimeError("boom")
        step = self._setup(expected_failure=False)
        # Also patch _print_node_logs_on_failure since it needs self.manager
        with patch.object(step, "_print_node_logs_on_failure"):
            assert self._run_with_mock_client(step, mock_client) is False

    def test_jsonrpc_error_path_passes_when_expected(self):
        """HTTP-200 response carrying a JSON-RPC error envelope is the
        real-world shape merod returns for "context does not belong to any
        group" - this is the branch we regressed on before the fix. `ok()`
        stores the client's return verbatim, so the envelope must be top level.
        """
        mock_client = MagicMock()
        mock_client.join_context.return_value = {
            "error": {"type": "ApiError", "data": "context does not belong"}
        }
        step = self._setup(expected_failure=True)
        assert self._run_with_mock_client(step, mock_client) is True

    def test_success_with_expected_failure_fails(self):
        """A negative test whose subject succeeds has been disproven, not
        proven. Passing here would make every gate the flag guards - the
        identity-downgrade refusal, the missing-ABI refusal - unable to fail."""
        mock_client = MagicMock()
        mock_client.join_context.return_value = {
            "data": {"contextId": "ctx", "memberPublicKey": "pk"}
        }
        step = self._setup(expected_failure=True)
        assert self._run_with_mock_client(step, mock_client) is False


class TestUpgradeGroupRefusalGate:
    """End-to-end on `upgrade_group`: an identity downgrade or a target with no
    embedded ABI must be refused for the named reason, or the step is red."""

    def _step(self, **extra):
        return UpgradeGroupStep(
            {
                "type": "upgrade_group",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "target_application_id": "app-v2",
                **extra,
            }
        )

    def _exec(self, step, client):
        with (
            patch.object(
                step,
                "_resolve_node_for_client",
                return_value=("http://localhost:1234", "n1"),
            ),
            patch(
                "merobox.commands.bootstrap.steps.group_upgrade.get_client_for_rpc_url",
                return_value=client,
            ),
            patch.object(step, "_resolve_dynamic_value", side_effect=lambda v, *_: v),
        ):
            return _run(step.execute({}, {}))

    def _raising(self, message):
        client = MagicMock()
        client.upgrade_group.side_effect = RuntimeError(message)
        return client

    def test_named_refusal_passes(self):
        step = self._step(
            expected_failure=True, expected_error="identity downgrade forbidden"
        )
        assert self._exec(step, self._raising("identity downgrade forbidden")) is True

    def test_an_unreachable_node_no_longer_stands_in_for_the_refusal(self):
        # `fail()` files the cause under `exception.message`; matching only the
        # step's own `error` message would accept any error at all.
        step = self._step(
            expected_failure=True, expected_error="identity downgrade forbidden"
        )
        assert self._exec(step, self._raising("Connection refused")) is False

    def test_jsonrpc_refusal_reason_is_matched(self):
        client = MagicMock()
        client.upgrade_group.return_value = {
            "error": {"type": "ApiError", "data": "no embedded ABI in target bundle"}
        }
        step = self._step(expected_failure=True, expected_error="no embedded ABI")
        assert self._exec(step, client) is True

    def test_jsonrpc_wrong_reason_fails(self):
        client = MagicMock()
        client.upgrade_group.return_value = {
            "error": {"type": "ApiError", "data": "group not found"}
        }
        step = self._step(expected_failure=True, expected_error="no embedded ABI")
        assert self._exec(step, client) is False

    def test_a_gate_that_lets_the_upgrade_through_now_fails(self):
        # Before this, a broken refusal gate left the step green with a warning,
        # so the workflow had no failing guard at all.
        client = MagicMock()
        client.upgrade_group.return_value = {"status": "in_progress"}
        step = self._step(
            expected_failure=True, expected_error="identity downgrade forbidden"
        )
        assert self._exec(step, client) is False


class TestCreateNamespaceInvitationUnexpectedShape:
    """Regression test for Cursor Bugbot review on PR #206: the success
    branch of CreateNamespaceInvitationStep has a secondary `return False`
    for responses whose shape isn't a nested dict. That path was not
    consulting expected_failure, so a successful-but-weird API response
    still failed the step."""

    def _exec(self, step, api_return_value):
        mock_client = MagicMock()
        mock_client.create_namespace_invitation.return_value = api_return_value
        with (
            patch(
                "merobox.commands.bootstrap.steps.group_invite.get_client_for_rpc_url",
                return_value=mock_client,
            ),
            patch.object(
                step,
                "_resolve_node_for_client",
                return_value=("http://localhost:1234", "n1"),
            ),
            patch.object(step, "_resolve_dynamic_value", side_effect=lambda v, *_: v),
            patch.object(step, "_print_node_logs_on_failure"),
        ):
            return _run(step.execute({}, {}))

    def _step(self, expected_failure):
        return CreateNamespaceInvitationStep(
            {
                "type": "create_namespace_invitation",
                "name": "t",
                "node": "n1",
                "namespace_id": "ns",
                "expected_failure": expected_failure,
            }
        )

    def test_unusable_shape_with_expected_failure_reports_unexpected_success(self):
        # The API call itself succeeded (the shape is just unusable), so this is
        # the unexpected-success verdict rather than a plain failure.
        assert self._exec(self._step(expected_failure=True), "not-a-dict") is False

    def test_unusable_shape_without_flag_still_fails(self):
        assert self._exec(self._step(expected_failure=False), "not-a-dict") is False


# =============================================================================
# Per-step smoke tests — each updated step must honor the flag on its
# exception branch. We don't duplicate the JSON-RPC / success-path coverage
# from the JoinContext class above; the shared helpers guarantee those work
# everywhere once the exception branch is wired correctly.
# =============================================================================


def _smoke(step_cls, module_path, client_method, base_config):
    """Assert: client raises → step returns True under expected_failure=True,
    and False without the flag."""
    config_fail = {**base_config, "expected_failure": True}
    config_default = {**base_config}

    step_fail = step_cls(config_fail)
    step_default = step_cls(config_default)

    mock_client = MagicMock()
    getattr(mock_client, client_method).side_effect = RuntimeError("upstream boom")

    def _exec(step):
        with (
            patch.object(
                step,
                "_resolve_node_for_client",
                return_value=("http://localhost:1234", base_config["node"]),
            ),
            patch(
                f"{module_path}.get_client_for_rpc_url",
                return_value=mock_client,
            ),
            patch.object(step, "_resolve_dynamic_value", side_effect=lambda v, *_: v),
            patch.object(step, "_print_node_logs_on_failure"),
        ):
            return _run(step.execute({}, {}))

    assert _exec(step_fail) is True, f"{step_cls.__name__} should pass when expected"
    assert (
        _exec(step_default) is False
    ), f"{step_cls.__name__} should fail without expected_failure"


class TestPerStepSmoke:
    """One lightweight smoke test per updated step type."""

    def test_create_namespace(self):
        _smoke(
            CreateNamespaceStep,
            "merobox.commands.bootstrap.steps.group_create",
            "create_namespace",
            {
                "type": "create_namespace",
                "name": "t",
                "node": "n1",
                "application_id": "app",
            },
        )

    def test_create_namespace_invitation(self):
        _smoke(
            CreateNamespaceInvitationStep,
            "merobox.commands.bootstrap.steps.group_invite",
            "create_namespace_invitation",
            {
                "type": "create_namespace_invitation",
                "name": "t",
                "node": "n1",
                "namespace_id": "ns",
            },
        )

    def test_join_namespace(self):
        _smoke(
            JoinNamespaceStep,
            "merobox.commands.bootstrap.steps.group_join",
            "join_namespace",
            {
                "type": "join_namespace",
                "name": "t",
                "node": "n2",
                "namespace_id": "ns",
                "invitation": '{"type": "SignedGroupOpenInvitation"}',
            },
        )

    def test_create_context(self):
        _smoke(
            CreateContextStep,
            "merobox.commands.bootstrap.steps.context",
            "create_context",
            {
                "type": "create_context",
                "name": "t",
                "node": "n1",
                "application_id": "app",
                "group_id": "ns",
            },
        )

    def test_install_application(self, tmp_path):
        # InstallApplicationStep checks the path exists AND routes through a
        # container-vs-binary branch before reaching the client call. Give it
        # a real file and force the binary-mode branch so the mocked client
        # gets invoked and our expected_failure logic can run.
        fake_wasm = tmp_path / "app.wasm"
        fake_wasm.write_bytes(b"\0asm")
        base_config = {
            "type": "install_application",
            "name": "t",
            "node": "n1",
            "path": str(fake_wasm),
            "dev": True,
        }
        step_fail = InstallApplicationStep({**base_config, "expected_failure": True})
        step_default = InstallApplicationStep(base_config)

        mock_client = MagicMock()
        mock_client.install_dev_application.side_effect = RuntimeError("boom")

        def _exec(step):
            with (
                patch.object(
                    step,
                    "_resolve_node_for_client",
                    return_value=("http://localhost:1234", "n1"),
                ),
                patch(
                    "merobox.commands.bootstrap.steps.install.get_client_for_rpc_url",
                    return_value=mock_client,
                ),
                patch.object(step, "_is_binary_mode", return_value=True),
                patch.object(
                    step, "_resolve_dynamic_value", side_effect=lambda v, *_: v
                ),
                patch.object(step, "_print_node_logs_on_failure"),
            ):
                return _run(step.execute({}, {}))

        assert _exec(step_fail) is True
        assert _exec(step_default) is False

    def test_create_group_in_namespace(self):
        _smoke(
            CreateGroupInNamespaceStep,
            "merobox.commands.bootstrap.steps.namespace",
            "create_group_in_namespace",
            {
                "type": "create_group_in_namespace",
                "name": "t",
                "node": "n1",
                "namespace_id": "ns",
                "group_name": "child",
            },
        )

    def test_add_group_members(self):
        _smoke(
            AddGroupMembersStep,
            "merobox.commands.bootstrap.steps.subgroup",
            "add_group_members",
            {
                "type": "add_group_members",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "members": [{"identity": "pk", "role": "Member"}],
            },
        )


# =============================================================================
# group_management.py step types — calimero-network/merobox#214: these step
# classes silently dropped `expected_failure`. Verify the exception branch is
# now wired for every one of them.
# =============================================================================

_GM_MODULE = "merobox.commands.bootstrap.steps.group_management"


class TestGroupManagementPerStepSmoke:
    """One lightweight smoke test per group_management step type wired in #214."""

    def test_remove_group_members(self):
        _smoke(
            RemoveGroupMembersStep,
            _GM_MODULE,
            "remove_group_members",
            {
                "type": "remove_group_members",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "members": ["pk"],
            },
        )

    def test_list_group_members(self):
        _smoke(
            ListGroupMembersStep,
            _GM_MODULE,
            "list_group_members",
            {"type": "list_group_members", "name": "t", "node": "n1", "group_id": "g"},
        )

    def test_update_member_role(self):
        _smoke(
            UpdateMemberRoleStep,
            _GM_MODULE,
            "update_member_role",
            {
                "type": "update_member_role",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "member_id": "pk",
                "role": "Member",
            },
        )

    def test_set_member_capabilities(self):
        # Also has a fuller dedicated class below
        # (TestSetMemberCapabilitiesExpectedFailure); this keeps the per-step
        # smoke list complete so all 12 wired steps are visible at a glance.
        _smoke(
            SetMemberCapabilitiesStep,
            _GM_MODULE,
            "set_member_capabilities",
            {
                "type": "set_member_capabilities",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "member_id": "pk",
                "capabilities": 7,
            },
        )

    def test_get_member_capabilities(self):
        _smoke(
            GetMemberCapabilitiesStep,
            _GM_MODULE,
            "get_member_capabilities",
            {
                "type": "get_member_capabilities",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "member_id": "pk",
            },
        )

    def test_set_default_capabilities(self):
        _smoke(
            SetDefaultCapabilitiesStep,
            _GM_MODULE,
            "set_default_capabilities",
            {
                "type": "set_default_capabilities",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "capabilities": 1,
            },
        )

    def test_set_subgroup_visibility(self):
        _smoke(
            SetSubgroupVisibilityStep,
            _GM_MODULE,
            "set_subgroup_visibility",
            {
                "type": "set_subgroup_visibility",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "visibility": "open",
            },
        )

    def test_get_group_info(self):
        _smoke(
            GetGroupInfoStep,
            _GM_MODULE,
            "get_group_info",
            {"type": "get_group_info", "name": "t", "node": "n1", "group_id": "g"},
        )

    def test_list_group_contexts(self):
        _smoke(
            ListGroupContextsStep,
            _GM_MODULE,
            "list_group_contexts",
            {"type": "list_group_contexts", "name": "t", "node": "n1", "group_id": "g"},
        )

    def test_delete_group(self):
        _smoke(
            DeleteGroupStep,
            _GM_MODULE,
            "delete_group",
            {"type": "delete_group", "name": "t", "node": "n1", "group_id": "g"},
        )

    def test_delete_namespace(self):
        _smoke(
            DeleteNamespaceStep,
            _GM_MODULE,
            "delete_namespace",
            {
                "type": "delete_namespace",
                "name": "t",
                "node": "n1",
                "namespace_id": "ns",
            },
        )

    def test_delete_context(self):
        _smoke(
            DeleteContextStep,
            _GM_MODULE,
            "delete_context",
            {"type": "delete_context", "name": "t", "node": "n1", "context_id": "ctx"},
        )


class TestSetMemberCapabilitiesExpectedFailure:
    """Fuller coverage for one representative group_management step
    (`set_member_capabilities`): exception path, success-with-flag warning,
    and the no-flag failure path."""

    def _setup(self, expected_failure):
        return SetMemberCapabilitiesStep(
            {
                "type": "set_member_capabilities",
                "name": "t",
                "node": "n1",
                "group_id": "g",
                "member_id": "pk",
                "capabilities": 7,
                "expected_failure": expected_failure,
            }
        )

    def _run_with_mock_client(self, step, mock_client):
        with (
            patch.object(
                step,
                "_resolve_node_for_client",
                return_value=("http://localhost:1234", "n1"),
            ),
            patch(
                f"{_GM_MODULE}.get_client_for_rpc_url",
                return_value=mock_client,
            ),
            patch.object(step, "_resolve_dynamic_value", side_effect=lambda v, *_: v),
            patch.object(step, "_print_node_logs_on_failure"),
        ):
            return _run(step.execute({}, {}))

    def test_exception_path_passes_when_expected(self):
        mock_client = MagicMock()
        mock_client.set_member_capabilities.side_effect = RuntimeError("nope")
        step = self._setup(expected_failure=True)
        with patch.object(
            step, "_report_expected_failure", return_value=True
        ) as report:
            assert self._run_with_mock_client(step, mock_client) is True
            report.assert_called_once()

    def test_success_with_expected_failure_fails(self):
        mock_client = MagicMock()
        mock_client.set_member_capabilities.return_value = {"data": "ok"}
        step = self._setup(expected_failure=True)
        with patch.object(
            step, "_report_unexpected_success", return_value=False
        ) as report:
            assert self._run_with_mock_client(step, mock_client) is False
            report.assert_called_once()

    def test_exception_path_fails_without_flag(self):
        mock_client = MagicMock()
        mock_client.set_member_capabilities.side_effect = RuntimeError("nope")
        step = self._setup(expected_failure=False)
        assert self._run_with_mock_client(step, mock_client) is False

    def test_jsonrpc_error_path_passes_when_expected(self):
        """HTTP-200 carrying a JSON-RPC error envelope — the shape merod
        returns for e.g. an unauthorized capability change. This branch
        (guarded by `_check_jsonrpc_error`) is distinct from the exception
        path and must also honor `expected_failure`."""
        mock_client = MagicMock()
        mock_client.set_member_capabilities.return_value = {
            "error": {"type": "ApiError", "data": "not authorized"}
        }
        step = self._setup(expected_failure=True)
        assert self._run_with_mock_client(step, mock_client) is True

    def test_jsonrpc_error_path_fails_without_flag(self):
        mock_client = MagicMock()
        mock_client.set_member_capabilities.return_value = {
            "error": {"type": "ApiError", "data": "not authorized"}
        }
        step = self._setup(expected_failure=False)
        assert self._run_with_mock_client(step, mock_client) is False

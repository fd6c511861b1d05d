"""Discovery, ordering, loading and isolation of plugins (no database needed)."""

from __future__ import annotations

import pytest

from kernel.config import load_settings
from kernel.plugins.manager import PluginLoadError, PluginManager, order_by_dependencies, read_manifest
from kernel.plugins.registry import collect_registrations
from kernel.runtime import Kernel, build_kernel
from kernel.sdk import LLMTool, NavItem, Permission, PluginManifest, hookimpl


def manifest(name: str, *depends: str, kernel: str = ">=0.1") -> PluginManifest:
    return PluginManifest(name=name, version="1.0", depends=tuple(depends), kernel=kernel)


class Empty:
    pass


def test_order_puts_dependencies_first():
    order = order_by_dependencies(
        [manifest("crm", "inbox"), manifest("inbox"), manifest("agents", "inbox", "knowledge"), manifest("knowledge")]
    )
    assert order.index("inbox") < order.index("crm")
    assert order.index("knowledge") < order.index("agents")


def test_a_cycle_is_a_start_up_error_naming_the_plugins():
    with pytest.raises(PluginLoadError, match="cycle") as excinfo:
        order_by_dependencies([manifest("a", "b"), manifest("b", "c"), manifest("c", "a")])
    assert all(name in str(excinfo.value) for name in "abc")


def test_a_missing_dependency_is_a_start_up_error():
    from kernel.plugins.manager import Candidate

    manager = PluginManager()
    with pytest.raises(PluginLoadError, match="'crm' depends on 'inbox'"):
        manager.load([Candidate(manifest=manifest("crm", "inbox"), entry_point=None, path=None, obj=Empty())])


def test_a_plugin_for_another_kernel_version_is_refused():
    from kernel.plugins.manager import Candidate

    with pytest.raises(PluginLoadError, match="needs kernel >=99"):
        PluginManager().load(
            [Candidate(manifest=manifest("future", kernel=">=99"), entry_point=None, path=None, obj=Empty())]
        )


class Broken:
    @hookimpl
    def register_nav(self, kernel):
        return []

    @hookimpl
    def register_navigation(self, kernel):  # misspelt hook
        return []


def test_a_plugin_with_an_unknown_hook_is_skipped_loudly_and_its_dependents_too():
    manager = PluginManager(strict=False)
    manager.register_object(manifest("broken"), Broken())
    manager.register_object(manifest("child", "broken"), Empty())
    assert manager.names() == []
    assert "register_navigation" in manager.failed["broken"]
    assert "broken" in manager.failed["child"]


def test_strict_mode_makes_a_broken_plugin_fatal():
    manager = PluginManager(strict=True)
    with pytest.raises(PluginLoadError, match="unknown hooks: register_navigation"):
        manager.register_object(manifest("broken"), Broken())


def test_the_example_plugin_is_discovered_through_its_entry_point():
    candidates = {c.name: c for c in PluginManager.discover()}
    assert "example" in candidates
    assert candidates["example"].manifest.title == "Notes"
    assert candidates["example"].distribution == "atendai-example-plugin"


def test_discovery_reads_the_manifest_without_importing_the_plugin():
    import subprocess
    import sys

    script = (
        "import sys; from kernel.plugins.manager import PluginManager; PluginManager.discover(); "
        "print(sorted(m for m in sys.modules if m.startswith('atendai_example')))"
    )
    imported = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"


def test_allowlist_restricts_plugins_and_names_unknown_ones(tmp_path):
    assert PluginManager.discover(allowlist=[]) == []
    with pytest.raises(PluginLoadError, match="not installed: nope"):
        PluginManager.discover(allowlist=["nope"])


def test_manifest_rejects_unknown_fields(tmp_path):
    path = tmp_path / "plugin.toml"
    path.write_text('name = "x"\nversion = "1"\nsurprise = true\n')
    with pytest.raises(PluginLoadError, match="invalid plugin manifest"):
        read_manifest(path)


class ToolA:
    @hookimpl
    def register_llm_tools(self, kernel):
        return [LLMTool("lookup", "d", {"type": "object"}, handler=None)]  # type: ignore[arg-type]


class ToolB(ToolA):
    pass


def _kernel_with(*plugins: tuple[PluginManifest, object]) -> Kernel:
    manager = PluginManager(strict=True)
    for m, obj in plugins:
        manager.register_object(m, obj)
    return Kernel(settings=load_settings(env_file=None, secret_key="x"), plugins=manager)


def test_two_plugins_declaring_the_same_tool_is_a_start_up_error():
    kernel = _kernel_with((manifest("a"), ToolA()), (manifest("b"), ToolB()))
    with pytest.raises(PluginLoadError, match="LLM tool 'lookup' is declared by both 'a' and 'b'"):
        collect_registrations(kernel.plugins, kernel)


class BadPermission:
    @hookimpl
    def register_permissions(self, kernel):
        return [Permission("crm.deal.write", "not mine")]


def test_a_permission_must_carry_its_plugins_name():
    kernel = _kernel_with((manifest("sneaky"), BadPermission()))
    with pytest.raises(PluginLoadError, match="must be named 'sneaky"):
        collect_registrations(kernel.plugins, kernel)


class AsyncRegistration:
    @hookimpl
    async def register_nav(self, kernel):
        return [NavItem("x", "X", "/x")]


def test_registration_hooks_must_not_be_async():
    kernel = _kernel_with((manifest("asyncy"), AsyncRegistration()))
    with pytest.raises(PluginLoadError, match="must return its value"):
        collect_registrations(kernel.plugins, kernel)


def test_hooks_for_a_tenant_skip_its_disabled_plugins():
    class Nav:
        def __init__(self, item_id):
            self.item_id = item_id

        @hookimpl
        def register_nav(self, kernel):
            return [NavItem(self.item_id, self.item_id, "/")]

    kernel = _kernel_with((manifest("one"), Nav("one")), (manifest("two"), Nav("two")))
    everything = kernel.hooks_for(frozenset({"one", "two"})).register_nav(kernel=kernel)
    only_two = kernel.hooks_for(frozenset({"two"})).register_nav(kernel=kernel)
    assert sorted(i[0].id for i in everything) == ["one", "two"]
    assert [i[0].id for i in only_two] == ["two"]
    assert kernel.hooks_for(frozenset({"two"})) is kernel.hooks_for(frozenset({"two"}))


def test_the_registry_filters_tools_nav_and_subscribers_by_enabled_plugins():
    kernel = build_kernel(load_settings(env_file=None, secret_key="x"))
    registry = kernel.registry
    assert [t.name for t in registry.tools_for(frozenset({"example"}))] == ["example_search_notes"]
    assert registry.tools_for(frozenset()) == []
    assert [i.id for i in registry.nav_for(frozenset({"example"}))] == ["example.notes"]
    assert registry.subscriptions_for("example.note.created", frozenset()) == []
    assert len(registry.subscriptions_for("example.note.created", frozenset({"example"}))) == 1
    assert "example.note.read" in registry.permissions
    assert registry.migrations["example"].branch == "example"


class PublishesItsOwnHook:
    """Like the inbox publishing ``register_channels`` for the whatsapp plugin to implement."""

    class Specs:
        @staticmethod
        def register_widgets(kernel):
            """Return widgets."""

    @hookimpl
    def atendai_addhooks(self, pluginmanager):
        import pluggy

        marker = pluggy.HookspecMarker("atendai")
        marker(self.Specs.register_widgets)
        pluginmanager.add_hookspecs(self.Specs)


class ImplementsIt:
    @hookimpl
    def register_widgets(self, kernel):
        return ["clock"]


def test_a_plugin_can_publish_hooks_that_later_plugins_implement():
    manager = PluginManager(strict=True)
    manager.register_object(manifest("publisher"), PublishesItsOwnHook())
    manager.register_object(manifest("implementer", "publisher"), ImplementsIt())
    assert manager.names() == ["publisher", "implementer"]
    assert manager.hook.register_widgets(kernel=None) == [["clock"]]


def test_call_each_can_limit_to_a_set_and_run_in_reverse():
    class Named:
        def __init__(self, name):
            self.name = name

        @hookimpl
        def register_nav(self, kernel):
            return self.name

    kernel = _kernel_with((manifest("a"), Named("a")), (manifest("b", "a"), Named("b")), (manifest("c"), Named("c")))
    assert [r for _, r in kernel.plugins.call_each("register_nav", kernel=None)] == ["a", "b", "c"]
    assert [r for _, r in kernel.plugins.call_each("register_nav", only={"a", "b"}, reverse=True, kernel=None)] == [
        "b",
        "a",
    ]


def test_manifest_and_hook_must_agree_on_features():
    from kernel.sdk import Feature

    class Undeclared:
        @hookimpl
        def register_features(self, kernel):
            return [Feature("quiet.seats", "quota", 3)]

    kernel = _kernel_with((manifest("quiet"), Undeclared()))
    with pytest.raises(PluginLoadError, match=r"plugin\.toml lists features"):
        collect_registrations(kernel.plugins, kernel)

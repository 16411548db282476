"""YAML from uploads, read without aliases.

A YAML alias (`*name`) repeats an anchored node without repeating its text, so a few
hundred bytes of nested aliases ("billion laughs") stand for billions of values: reading
is cheap, but whatever walks the result (validation, `json.dumps` into a JSONField) spends
minutes and gigabytes on it. Configuration files and YOLO data.yaml never need aliases,
so a file with one is refused; what this app writes has none.
"""
import yaml


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"found an alias (*{event.anchor}); aliases are not allowed here, write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def load(text):
    """yaml.safe_load, refusing aliases with a yaml.YAMLError that says so."""
    return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass


def dump(data, **options) -> str:
    """yaml.safe_dump that writes shared values out in full, so `load` reads them back."""
    return yaml.dump(data, Dumper=_NoAliasDumper, **options)

"""Ship the top-level rules/, schemas/ and fleets/ inside the wheel as seoib/_data/.

The repository layout keeps rule data beside the package, but a non-editable
install must carry it; seoib.paths finds either location. The man page
(docs/seoib.1, generated from the argparse tables by seoib.commands.manpage) is
installed as share/man/man1/seoib.1.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "seoib" / "_data"
        for folder in ("rules", "schemas", "fleets"):
            for src in sorted((HERE / folder).rglob("*")):
                if src.is_file() and src.suffix in {".yaml", ".json"}:
                    dst = target / folder / src.relative_to(HERE / folder)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.write_bytes(src.read_bytes())


setup(cmdclass={"build_py": BuildWithData}, data_files=[("share/man/man1", ["docs/seoib.1"])])

# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths the tests share: the checkout, its collection root and the published results corpus."""
import os

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
COLLECTIONS = os.path.join(REPO, ".collections")
# CI has the shared material beside the clone; MLPERF_CORPUS points elsewhere when needed.
CORPUS = os.environ.get("MLPERF_CORPUS", os.path.join(os.path.dirname(REPO), "shared", "corpus"))

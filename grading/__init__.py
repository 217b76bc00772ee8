"""The course's grading machinery: the chapter manifests, the pytest plugin that
prints the score table, and the comparison helpers the graders use.

Learners never need to edit anything here; `pytest chapters/NN` loads it.
"""

"""What the notebooks import: each notebook's experiments and findings, the checks of its
exercises, figures and diagrams, widgets and live curves, assignments, Colab and the course's
timing. Import a module by name: ``from reslab.course import experiments, plots``."""

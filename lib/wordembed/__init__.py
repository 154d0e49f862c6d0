"""wordembed: do word embeddings from LLMs differ from those of classical encoders, or is it only scale?

Data flows one way: datasets and models -> store (vectors) -> analyses (arrays in, tables out) -> notebooks.
"""

from wordembed.embeddings import Embeddings

__all__ = ["Embeddings"]
__version__ = "0.1.0"

"""What ``wordembed data fetch`` downloads, and the sha256 every fetched file must have.

Shipped inside the package (not read from a ``SHA256SUMS`` beside the data) so that a user with only a
clone can check what they fetched. The checksums are those of the project's verified copies
(``shared/data/SHA256SUMS``, restricted to the files each set's loaders need plus the licence/readme files of
the same download); ``tests/test_data_fetch.py`` checks they still agree with that file where it exists.
URLs are the sets' canonical public locations (GluonNLP's ``word_embedding_evaluation.py`` for BATS,
Google, SimLex-999, MEN and the WordSim-353 split; the sets' SOURCE.md / data README for the rest).

Each set: ``title``; ``folder`` (its top folder under the data directory); ``downloads``, each with
``url``, ``format`` (``file``, ``zip`` or ``tar.gz``) and ``members`` (path under ``folder`` -> member
path in the archive; ``""`` for a plain file); ``files`` (path under ``folder`` -> sha256).
Regenerate rather than hand-edit when the data release changes.
"""

from __future__ import annotations

from typing import Any

# fmt: off
SETS: dict[str, dict[str, Any]] = {'bats': {'title': 'BATS 3.0',
          'folder': 'BATS_3.0',
          'downloads': [{'url': 'https://s3.amazonaws.com/blackbirdprojects/tut_vsm/BATS_3.0.zip',
                         'format': 'zip',
                         'members': {'1_Inflectional_morphology/I01 [noun - plural_reg].txt': 'BATS_3.0/1_Inflectional_morphology/I01 '
                                                                                              '[noun - '
                                                                                              'plural_reg].txt',
                                     '1_Inflectional_morphology/I02 [noun - plural_irreg].txt': 'BATS_3.0/1_Inflectional_morphology/I02 '
                                                                                                '[noun - '
                                                                                                'plural_irreg].txt',
                                     '1_Inflectional_morphology/I03 [adj - comparative].txt': 'BATS_3.0/1_Inflectional_morphology/I03 '
                                                                                              '[adj - '
                                                                                              'comparative].txt',
                                     '1_Inflectional_morphology/I04 [adj - superlative].txt': 'BATS_3.0/1_Inflectional_morphology/I04 '
                                                                                              '[adj - '
                                                                                              'superlative].txt',
                                     '1_Inflectional_morphology/I05 [verb_inf - 3pSg].txt': 'BATS_3.0/1_Inflectional_morphology/I05 '
                                                                                            '[verb_inf - '
                                                                                            '3pSg].txt',
                                     '1_Inflectional_morphology/I06 [verb_inf - Ving].txt': 'BATS_3.0/1_Inflectional_morphology/I06 '
                                                                                            '[verb_inf - '
                                                                                            'Ving].txt',
                                     '1_Inflectional_morphology/I07 [verb_inf - Ved].txt': 'BATS_3.0/1_Inflectional_morphology/I07 '
                                                                                           '[verb_inf - '
                                                                                           'Ved].txt',
                                     '1_Inflectional_morphology/I08 [verb_Ving - 3pSg].txt': 'BATS_3.0/1_Inflectional_morphology/I08 '
                                                                                             '[verb_Ving - '
                                                                                             '3pSg].txt',
                                     '1_Inflectional_morphology/I09 [verb_Ving - Ved].txt': 'BATS_3.0/1_Inflectional_morphology/I09 '
                                                                                            '[verb_Ving - '
                                                                                            'Ved].txt',
                                     '1_Inflectional_morphology/I10 [verb_3pSg - Ved].txt': 'BATS_3.0/1_Inflectional_morphology/I10 '
                                                                                            '[verb_3pSg - '
                                                                                            'Ved].txt',
                                     '2_Derivational_morphology/D01 [noun+less_reg].txt': 'BATS_3.0/2_Derivational_morphology/D01 '
                                                                                          '[noun+less_reg].txt',
                                     '2_Derivational_morphology/D02 [un+adj_reg].txt': 'BATS_3.0/2_Derivational_morphology/D02 '
                                                                                       '[un+adj_reg].txt',
                                     '2_Derivational_morphology/D03 [adj+ly_reg].txt': 'BATS_3.0/2_Derivational_morphology/D03 '
                                                                                       '[adj+ly_reg].txt',
                                     '2_Derivational_morphology/D04 [over+adj_reg].txt': 'BATS_3.0/2_Derivational_morphology/D04 '
                                                                                         '[over+adj_reg].txt',
                                     '2_Derivational_morphology/D05 [adj+ness_reg].txt': 'BATS_3.0/2_Derivational_morphology/D05 '
                                                                                         '[adj+ness_reg].txt',
                                     '2_Derivational_morphology/D06 [re+verb_reg].txt': 'BATS_3.0/2_Derivational_morphology/D06 '
                                                                                        '[re+verb_reg].txt',
                                     '2_Derivational_morphology/D07 [verb+able_reg].txt': 'BATS_3.0/2_Derivational_morphology/D07 '
                                                                                          '[verb+able_reg].txt',
                                     '2_Derivational_morphology/D08 [verb+er_irreg].txt': 'BATS_3.0/2_Derivational_morphology/D08 '
                                                                                          '[verb+er_irreg].txt',
                                     '2_Derivational_morphology/D09 [verb+tion_irreg].txt': 'BATS_3.0/2_Derivational_morphology/D09 '
                                                                                            '[verb+tion_irreg].txt',
                                     '2_Derivational_morphology/D10 [verb+ment_irreg].txt': 'BATS_3.0/2_Derivational_morphology/D10 '
                                                                                            '[verb+ment_irreg].txt',
                                     '3_Encyclopedic_semantics/E01 [country - capital].txt': 'BATS_3.0/3_Encyclopedic_semantics/E01 '
                                                                                             '[country - '
                                                                                             'capital].txt',
                                     '3_Encyclopedic_semantics/E02 [country - language].txt': 'BATS_3.0/3_Encyclopedic_semantics/E02 '
                                                                                              '[country - '
                                                                                              'language].txt',
                                     '3_Encyclopedic_semantics/E03 [UK_city - county].txt': 'BATS_3.0/3_Encyclopedic_semantics/E03 '
                                                                                            '[UK_city - '
                                                                                            'county].txt',
                                     '3_Encyclopedic_semantics/E04 [name - nationality].txt': 'BATS_3.0/3_Encyclopedic_semantics/E04 '
                                                                                              '[name - '
                                                                                              'nationality].txt',
                                     '3_Encyclopedic_semantics/E05 [name - occupation].txt': 'BATS_3.0/3_Encyclopedic_semantics/E05 '
                                                                                             '[name - '
                                                                                             'occupation].txt',
                                     '3_Encyclopedic_semantics/E06 [animal - young].txt': 'BATS_3.0/3_Encyclopedic_semantics/E06 '
                                                                                          '[animal - '
                                                                                          'young].txt',
                                     '3_Encyclopedic_semantics/E07 [animal - sound].txt': 'BATS_3.0/3_Encyclopedic_semantics/E07 '
                                                                                          '[animal - '
                                                                                          'sound].txt',
                                     '3_Encyclopedic_semantics/E08 [animal - shelter].txt': 'BATS_3.0/3_Encyclopedic_semantics/E08 '
                                                                                            '[animal - '
                                                                                            'shelter].txt',
                                     '3_Encyclopedic_semantics/E09 [things - color].txt': 'BATS_3.0/3_Encyclopedic_semantics/E09 '
                                                                                          '[things - '
                                                                                          'color].txt',
                                     '3_Encyclopedic_semantics/E10 [male - female].txt': 'BATS_3.0/3_Encyclopedic_semantics/E10 '
                                                                                         '[male - '
                                                                                         'female].txt',
                                     '4_Lexicographic_semantics/L01 [hypernyms - animals].txt': 'BATS_3.0/4_Lexicographic_semantics/L01 '
                                                                                                '[hypernyms '
                                                                                                '- '
                                                                                                'animals].txt',
                                     '4_Lexicographic_semantics/L02 [hypernyms - misc].txt': 'BATS_3.0/4_Lexicographic_semantics/L02 '
                                                                                             '[hypernyms - '
                                                                                             'misc].txt',
                                     '4_Lexicographic_semantics/L03 [hyponyms - misc].txt': 'BATS_3.0/4_Lexicographic_semantics/L03 '
                                                                                            '[hyponyms - '
                                                                                            'misc].txt',
                                     '4_Lexicographic_semantics/L04 [meronyms - substance].txt': 'BATS_3.0/4_Lexicographic_semantics/L04 '
                                                                                                 '[meronyms '
                                                                                                 '- '
                                                                                                 'substance].txt',
                                     '4_Lexicographic_semantics/L05 [meronyms - member].txt': 'BATS_3.0/4_Lexicographic_semantics/L05 '
                                                                                              '[meronyms - '
                                                                                              'member].txt',
                                     '4_Lexicographic_semantics/L06 [meronyms - part].txt': 'BATS_3.0/4_Lexicographic_semantics/L06 '
                                                                                            '[meronyms - '
                                                                                            'part].txt',
                                     '4_Lexicographic_semantics/L07 [synonyms - intensity].txt': 'BATS_3.0/4_Lexicographic_semantics/L07 '
                                                                                                 '[synonyms '
                                                                                                 '- '
                                                                                                 'intensity].txt',
                                     '4_Lexicographic_semantics/L08 [synonyms - exact].txt': 'BATS_3.0/4_Lexicographic_semantics/L08 '
                                                                                             '[synonyms - '
                                                                                             'exact].txt',
                                     '4_Lexicographic_semantics/L09 [antonyms - gradable].txt': 'BATS_3.0/4_Lexicographic_semantics/L09 '
                                                                                                '[antonyms '
                                                                                                '- '
                                                                                                'gradable].txt',
                                     '4_Lexicographic_semantics/L10 [antonyms - binary].txt': 'BATS_3.0/4_Lexicographic_semantics/L10 '
                                                                                              '[antonyms - '
                                                                                              'binary].txt'}}],
          'files': {'1_Inflectional_morphology/I01 [noun - plural_reg].txt': 'f2a405ce50f8f23d7439261ea1dc39f3f23996dc05ad65a7be90599459126430',
                    '1_Inflectional_morphology/I02 [noun - plural_irreg].txt': '4466475a91c7ddd29d0860047396c9ef81137031741821d6d4cddbc7f9f54dc1',
                    '1_Inflectional_morphology/I03 [adj - comparative].txt': '902c8e51f2e832f595244586e76d16e72e6922d6d3ffebe7b2d8f503de9af201',
                    '1_Inflectional_morphology/I04 [adj - superlative].txt': 'c54b93d54058c6ff644694eee2f0a57a7a97418acf48c3691523151f790129db',
                    '1_Inflectional_morphology/I05 [verb_inf - 3pSg].txt': 'cb6726f4262f0e202c49707983cd18cae0e3c26c37fd3c15aa73f490230fb878',
                    '1_Inflectional_morphology/I06 [verb_inf - Ving].txt': '2002ea3917fb578cecd1a38998075bcf0d6cc1ce598198e9bc76d3e609cb89ae',
                    '1_Inflectional_morphology/I07 [verb_inf - Ved].txt': '0397eb83d6d12f2c86084dfa8522e2270b0bb2fe946d47800de8e932c25ed8e6',
                    '1_Inflectional_morphology/I08 [verb_Ving - 3pSg].txt': '16409fae45eea60d0b7433eba9a9b74f5985ff572ff7f8174623ccdd044b263f',
                    '1_Inflectional_morphology/I09 [verb_Ving - Ved].txt': '0f75a20573e68b8a181b0387f5f827bcf98f9380279b2941a635a13974814e9f',
                    '1_Inflectional_morphology/I10 [verb_3pSg - Ved].txt': '8ce48ac01e360bfc6fff4e5e59ffcc7289815f4c0d00eea7b0fa4039a27a56e5',
                    '2_Derivational_morphology/D01 [noun+less_reg].txt': 'df7932eb73e875c07982a79d2a55ebbcc687066531fb43e7b4ae3fa5a242a01b',
                    '2_Derivational_morphology/D02 [un+adj_reg].txt': '314a153805b279a91fd5f37ee6108d21ab6c09722e159fbfb4ebfaf150d7f5fc',
                    '2_Derivational_morphology/D03 [adj+ly_reg].txt': '1f17b894054f2eaa5e4acd993174b5ab0fa96a38bf5bf7e6f5c75272e2a9bd5c',
                    '2_Derivational_morphology/D04 [over+adj_reg].txt': '60e1279dda6ade89272be1b3ee543e7fb08415161eff4621b255463aaa0423f7',
                    '2_Derivational_morphology/D05 [adj+ness_reg].txt': '112700aaf9c7a49dcb3a15ab4e36464580fdf8344b0ad02b9002c6f2c9c2320b',
                    '2_Derivational_morphology/D06 [re+verb_reg].txt': 'fe35cac9ebff5b4e2d200f1e1cb3b1aa6a2ee32b085572e1d7658b40d285aae1',
                    '2_Derivational_morphology/D07 [verb+able_reg].txt': 'a13f77984d4a551bd9ccf6c9b248eba9aef8bab0afe6cfb3538590846d087422',
                    '2_Derivational_morphology/D08 [verb+er_irreg].txt': 'ca10f7428edc6ef5b8c34bccd8883f8f830b1e7072d548bacb89ec4d0d5efed2',
                    '2_Derivational_morphology/D09 [verb+tion_irreg].txt': 'c4199b8645a52148f171c8a13b017ec87d5226e731e572e72cb1ae4710b2400f',
                    '2_Derivational_morphology/D10 [verb+ment_irreg].txt': '454df5fffc41641852fc8c30cd6b1182dbca6084632c20d5646514619c530b49',
                    '3_Encyclopedic_semantics/E01 [country - capital].txt': '4bfeb3ce8d9057899b4110721d1e0b0524d8327f72a59b50b12982bfdbd532ea',
                    '3_Encyclopedic_semantics/E02 [country - language].txt': 'fe7fbb02c833c79e7d1d17bf454374585a82fdcfd36aafb657c48eb30e21e38d',
                    '3_Encyclopedic_semantics/E03 [UK_city - county].txt': '33ff67c2dcdd04319056b3d25a1a6d200e16d0e1dc6c4513185654da5b40fe63',
                    '3_Encyclopedic_semantics/E04 [name - nationality].txt': '1cf896fbe88cd6f4a59e1e847ceaa5b89c34129ab8618f88390f392bf5501b86',
                    '3_Encyclopedic_semantics/E05 [name - occupation].txt': '9de6fe0e1c6f9bea42484ae30118340ee3402ab6edb60b48a1f053db6669a523',
                    '3_Encyclopedic_semantics/E06 [animal - young].txt': '8c0324d64da14062cf54fcd349706b5d622abf630ffc09f294a5dd5512ca0c16',
                    '3_Encyclopedic_semantics/E07 [animal - sound].txt': 'a99c8826744bf80b4fab7fbbb137c4f187ce17ce758960f15aa648f9d8f53a2f',
                    '3_Encyclopedic_semantics/E08 [animal - shelter].txt': 'aecea7c6786da6d646fb717de7cae53ee91ead2cc718128f20009c4712cd9cea',
                    '3_Encyclopedic_semantics/E09 [things - color].txt': '3801de3967135af59b2c8bf6ca67b64e021413954a42a6aa3c9fa4e04209223e',
                    '3_Encyclopedic_semantics/E10 [male - female].txt': '8c9866a06a70b572344aa819943786b95e577194b86b899d66883dc80ee1a07b',
                    '4_Lexicographic_semantics/L01 [hypernyms - animals].txt': '2350727e928e9d0af481b7e38b00d8e4a1c83d1df3b64b438778193ae782ade6',
                    '4_Lexicographic_semantics/L02 [hypernyms - misc].txt': '237d787adec92e9288c5a22bedb4c199b5aeac2bd6c76ca9169f25564a85c749',
                    '4_Lexicographic_semantics/L03 [hyponyms - misc].txt': '085463e9135b4701a6cd5d72f261e687f1edaf959d31a4960cca09b0174ddda5',
                    '4_Lexicographic_semantics/L04 [meronyms - substance].txt': '0388e722d038cd282d9497f9f761f33d1a84e6a9a8b6e7766b6195a296093bbe',
                    '4_Lexicographic_semantics/L05 [meronyms - member].txt': 'd88e3d37d5feab876ba658d3bc1817e6a2430d03064b30c690e5bac05741dbcf',
                    '4_Lexicographic_semantics/L06 [meronyms - part].txt': 'dfb2fc4ff3c21f7602fb9eaff45e21936089770fd2c8dc7f4a70e6c15c271e5e',
                    '4_Lexicographic_semantics/L07 [synonyms - intensity].txt': '291f87a69507fc8f1eea06bceaa6fd7ae90670488ebf3abefc0013d78d2e86a2',
                    '4_Lexicographic_semantics/L08 [synonyms - exact].txt': '2d86f1916deb713e748b90a516a690423a06eb23d0c74e3d3cec3f8a82164ad8',
                    '4_Lexicographic_semantics/L09 [antonyms - gradable].txt': '861b95c036f5db2074e6faf5023be5396efaeba022cfaad132d38da67407d203',
                    '4_Lexicographic_semantics/L10 [antonyms - binary].txt': '3cb743a409889a472878df8a0403296667805f16aa7054f27cb7fd16130d9521'}},
 'google': {'title': 'Google analogy',
            'folder': 'google_analogy',
            'downloads': [{'url': 'http://download.tensorflow.org/data/questions-words.txt',
                           'format': 'file',
                           'members': {'questions-words.txt': ''}}],
            'files': {'questions-words.txt': '8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36'}},
 'simlex999': {'title': 'SimLex-999',
               'folder': 'simlex999',
               'downloads': [{'url': 'https://www.cl.cam.ac.uk/~fh295/SimLex-999.zip',
                              'format': 'zip',
                              'members': {'SimLex-999/README.txt': 'SimLex-999/README.txt',
                                          'SimLex-999/SimLex-999.txt': 'SimLex-999/SimLex-999.txt'}}],
               'files': {'SimLex-999/README.txt': '9a5137f54986b4ef42099225885f086da60a55f387db01e661c3a59679be9131',
                         'SimLex-999/SimLex-999.txt': 'ca00ff8515a36cde32d13c2b83def23f5a167b67db93ebfcfb7dae039ba22c0b'}},
 'ws353': {'title': 'WordSim-353',
           'folder': 'wordsim353',
           'downloads': [{'url': 'https://gabrilovich.com/resources/data/wordsim353/wordsim353.zip',
                          'format': 'zip',
                          'members': {'combined.csv': 'combined.csv',
                                      'combined.tab': 'combined.tab',
                                      'set1.csv': 'set1.csv',
                                      'set1.tab': 'set1.tab',
                                      'set2.csv': 'set2.csv',
                                      'set2.tab': 'set2.tab',
                                      'instructions.txt': 'instructions.txt'}},
                         {'url': 'http://alfonseca.org/pubs/ws353simrel.tar.gz',
                          'format': 'tar.gz',
                          'members': {'similarity.tab': 'wordsim353_sim_rel/wordsim_similarity_goldstandard.txt',
                                      'relatedness.tab': 'wordsim353_sim_rel/wordsim_relatedness_goldstandard.txt'}}],
           'files': {'combined.csv': '49ff6433ae68abe716fb66433fd870483e289a7a8c74531f59eca847d103fff3',
                     'combined.tab': '1edf400ed472e796b3be562cf7970b10d749a07874a96ddc77e75fd1006b446c',
                     'set1.csv': '25043375bc1f9fdb194094bf4a75ad25a53af1b6870036ab27787ce4769d5923',
                     'set1.tab': 'e7ecd8858b9d1585faebb55b135ce4f354deb4130e5c519caa5fdaa1ed530067',
                     'set2.csv': '5cf1378b6bd48b1060457c158bbc7b6331eaabcd82e3099614997ac202f15de3',
                     'set2.tab': 'e2656288a78dc0a4b29ab850630ff415d2dc63208e2d55986c08bdcd3246fb44',
                     'instructions.txt': '276722cafef27972548bc068af11a60523ce55c07660b3aee4dbe428755551d9',
                     'similarity.tab': 'f1da938998863c94e53f72f984a5c6e215f0b46c323aae8f0f4930703a339107',
                     'relatedness.tab': '66a7c88100624d0a391605ff61ce84e11d11ee620d51ec0298da49592838f8fa'}},
 'men': {'title': 'MEN',
         'folder': 'men',
         'downloads': [{'url': 'https://staff.fnwi.uva.nl/e.bruni/resources/MEN.tar.gz',
                        'format': 'tar.gz',
                        'members': {'MEN/MEN_dataset_lemma_form.dev': 'MEN/MEN_dataset_lemma_form.dev',
                                    'MEN/MEN_dataset_lemma_form.test': 'MEN/MEN_dataset_lemma_form.test',
                                    'MEN/MEN_dataset_lemma_form_full': 'MEN/MEN_dataset_lemma_form_full',
                                    'MEN/MEN_dataset_natural_form_full': 'MEN/MEN_dataset_natural_form_full',
                                    'MEN/agreement/agreement-score.txt': 'MEN/agreement/agreement-score.txt',
                                    'MEN/instructions.txt': 'MEN/instructions.txt',
                                    'MEN/licence.txt': 'MEN/licence.txt'}}],
         'files': {'MEN/MEN_dataset_lemma_form.dev': 'd7b1b92001d901dc152fa6ab019f061e6494115141f96215ed0bc88dd98f65c1',
                   'MEN/MEN_dataset_lemma_form.test': '8ed8355642271c67f6f4be26ada5192faff54093651d486f0620bbd9ccfeeeda',
                   'MEN/MEN_dataset_lemma_form_full': 'd13c9c666691944c29aa4bdee7128fa69eb5f9734603f8c6048d1bc2ca08465a',
                   'MEN/MEN_dataset_natural_form_full': '4596e169dd237228ca7701dde33585ca93263506ce7fca9de0f951aaab1aae36',
                   'MEN/agreement/agreement-score.txt': 'f116e129819826fc04d2ac0db882b2b6550e60c7d12851afe63a89ccc7151154',
                   'MEN/instructions.txt': '477383b389403f92cea022a693ca6eb69daab81ce27b151be0888bf79b0f49b4',
                   'MEN/licence.txt': 'd8d7416e8adbba39f5eeabf2876a98293c4ac2ce2f25f7446d6a435f8e7b67b6'}},
 'word_similarity': {'title': 'RG-65 and Stanford Rare Words',
                     'folder': 'word_similarity',
                     'downloads': [{'url': 'https://raw.githubusercontent.com/mfaruqui/eval-word-vectors/master/data/word-sim/EN-RG-65.txt',
                                    'format': 'file',
                                    'members': {'EN-RG-65.txt': ''}},
                                   {'url': 'https://raw.githubusercontent.com/mfaruqui/eval-word-vectors/master/data/word-sim/EN-RW-STANFORD.txt',
                                    'format': 'file',
                                    'members': {'EN-RW-STANFORD.txt': ''}},
                                   {'url': 'https://raw.githubusercontent.com/mfaruqui/eval-word-vectors/master/LICENSE',
                                    'format': 'file',
                                    'members': {'LICENSE.eval-word-vectors': ''}}],
                     'files': {'EN-RG-65.txt': 'c243f3a91c3f5d8cf67f21a67f6fb80bde8b6bb060851a6a48e6f2d68ec98c9f',
                               'EN-RW-STANFORD.txt': '5108d54dfc746f44f9c3d7e31d2857c37cf71430bc1594175a61a3b89bb0ae1f',
                               'LICENSE.eval-word-vectors': 'd966f71dc26b1a28af0c2176721a503ad4abf6267638c64d3bed2be6034840d1'}}}
# fmt: on

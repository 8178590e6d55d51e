# Warnings and sanitizers for every target of this project (not for users).
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
if(CAIO_WERROR)
  add_compile_options(-Werror)
endif()
if(CAIO_SANITIZE)
  add_compile_options(-fsanitize=${CAIO_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CAIO_SANITIZE})
endif()

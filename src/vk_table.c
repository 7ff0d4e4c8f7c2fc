/* placeholder: being written */ typedef int placeholder_vk_table;
